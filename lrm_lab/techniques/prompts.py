"""Chat prompts shared by the techniques."""

from __future__ import annotations

from lrm_lab.models.base import Message
from lrm_lab.tasks.question import Question

INSTRUCTION = (
    "Solve the problem. Think step by step, then write the final answer on its own last line "
    "in the form 'Answer: <answer>'."
)


def chain_of_thought(question: Question) -> list[Message]:
    """Ask for step-by-step reasoning and an 'Answer:' line, as in chain-of-thought prompting."""
    return [{"role": "user", "content": f"{question.text.strip()}\n\n{INSTRUCTION}"}]
