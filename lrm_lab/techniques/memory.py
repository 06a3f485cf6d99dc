"""Memory: retrieve verified solutions of similar questions and show them as worked examples.

Test-time memory update in the form of retrieved worked examples, like the ExpRAG baseline of
Evo-Memory (arXiv:2511.20857): every solution verified correct is written to a memory store, and
the next question retrieves its nearest neighbours by embedding similarity. Memory is a
context stage: it only changes the prompt, and a decoding technique (greedy or search) answers.
The write after the verdict happens in the service, which has the database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from lrm_lab.errors import InputError
from lrm_lab.tasks.question import Question
from lrm_lab.techniques.options import option
from lrm_lab.techniques.prompts import WorkedExample
from lrm_lab.techniques.result import MemoryHit, RunContext

QUESTION_PREVIEW_CHARS = 200  # characters of a memory's question kept in the attempt's details


@dataclass(frozen=True)
class MemoryOptions:
    k: int = option(2, "Maximum number of remembered solutions shown as worked examples.", minimum=1, maximum=8)
    threshold: float = option(
        0.5, "Minimum cosine similarity (0 to 1) between the question and a memory's question for it to be used.",
        minimum=0.0, maximum=1.0,
    )
    clean: bool = option(
        False, "Clean mode: never use memories written from this same question, so only transfer from other "
        "questions can help.",
    )


@dataclass(frozen=True)
class MemoryContext:
    """The output of the memory stage: worked examples for the prompt and the details to store."""

    examples: tuple[WorkedExample, ...]
    details: dict[str, Any]
    seconds: float


def retrieve_memories(question: Question, options: MemoryOptions, ctx: RunContext) -> MemoryContext:
    """Find the k most similar remembered solutions above the threshold and turn them into examples."""
    start = time.perf_counter()
    if ctx.memory is None:
        raise InputError("This recipe uses memory, but no memory store was given to it.")

    # Search the namespace by embedding similarity; clean mode skips the question's own memories.
    hits: list[MemoryHit] = ctx.memory.search(question.text, options.k, options.threshold, options.clean)

    # Most similar first, as earlier chat turns before the question.
    examples = tuple(WorkedExample(hit.question, hit.trace, hit.answer) for hit in hits)
    details = {
        "memories_used": [hit.id for hit in hits],
        "memory": {
            "namespace": ctx.memory.namespace,
            "k": options.k,
            "threshold": options.threshold,
            "clean": options.clean,
            "hits": [
                {
                    "id": hit.id,
                    "similarity": round(hit.similarity, 4),
                    "attempt_id": hit.attempt_id,
                    "source": hit.source,
                    "answer": hit.answer,
                    "question": hit.question[:QUESTION_PREVIEW_CHARS],
                }
                for hit in hits
            ],
        },
    }
    return MemoryContext(examples, details, time.perf_counter() - start)
