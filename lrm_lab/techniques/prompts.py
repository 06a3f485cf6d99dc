"""Chat prompts shared by the techniques."""

from __future__ import annotations

from dataclasses import dataclass

from lrm_lab.models.base import Message
from lrm_lab.tasks.question import Question

INSTRUCTION = (
    "Solve the problem. Think step by step, then write the final answer on its own last line "
    "in the form 'Answer: <answer>'."
)
MAX_EXAMPLE_CHARS = 2000  # a longer worked solution is cut, so examples cannot fill the context window


@dataclass(frozen=True)
class WorkedExample:
    """A solved question shown to the model before the question it must answer."""

    question: str
    solution: str  # the reasoning, ending with an "Answer: <answer>" line
    answer: str


def chain_of_thought(question: Question, examples: tuple[WorkedExample, ...] = ()) -> list[Message]:
    """Ask for step-by-step reasoning and an 'Answer:' line, as in chain-of-thought prompting.

    Worked examples come first as earlier turns of the chat, each question with its solution,
    so the model reads solved problems in the same form as the one it must answer.
    """
    messages: list[Message] = []
    for example in examples:
        messages.append({"role": "user", "content": _ask(example.question)})
        messages.append({"role": "assistant", "content": worked_solution(example.solution, example.answer)})
    messages.append({"role": "user", "content": _ask(question.text)})
    return messages


def worked_solution(trace: str, answer: str) -> str:
    """Return the trace cut to MAX_EXAMPLE_CHARS, ending with an 'Answer: <answer>' line."""
    text = trace.strip()
    if len(text) > MAX_EXAMPLE_CHARS:
        text = text[:MAX_EXAMPLE_CHARS].rstrip() + " …"
    last_line = text.splitlines()[-1].strip() if text else ""
    if last_line != f"Answer: {answer}":
        text = f"{text}\nAnswer: {answer}".strip()
    return text


def _ask(text: str) -> str:
    return f"{text.strip()}\n\n{INSTRUCTION}"
