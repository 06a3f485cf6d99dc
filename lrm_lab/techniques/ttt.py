"""Test-time training: fit a throw-away LoRA adapter to variations of the question, answer, forget.

After Akyürek et al. 2024, "The Surprising Effectiveness of Test-Time Training for Abstract
Reasoning" (ekinakyurek/marc): per task, build a small training set from the task itself with
leave-one-out (each variation in turn is the question, the others are its worked examples),
fit a LoRA adapter for a few steps, predict with the adapted model, and delete the adapter.

TTT is an adaptation stage: the recipe's decoding technique (greedy baseline or search)
answers once with the base model (the "before" answer) and once with the adapter.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lrm_lab.errors import InputError
from lrm_lab.models.base import LoraSettings, TrainingExample
from lrm_lab.tasks.extract import EXTRACTOR_VERSION
from lrm_lab.tasks.question import Question, normalise_question
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.techniques.options import option
from lrm_lab.techniques.prompts import WorkedExample, chain_of_thought, worked_solution
from lrm_lab.techniques.result import Progress, RunContext, TechniqueResult
from lrm_lab.techniques.variations import Variation, VariationSet, build_variations

Decode = Callable[[RunContext], TechniqueResult]  # the recipe's decoding stage, run with a given context
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
QUESTION_PREVIEW_CHARS = 300  # characters of each variation's question kept in the details
# Characters of other variations a leave-one-out chat shows at most. Three siblings of a short
# family fit. Long self-generated solutions are left out after the first ones, so a training
# pass stays under about 600 tokens.
MAX_CONTEXT_CHARS = 1500

# Shares of the column's progress bar: variations and the answer before, training, the answer after.
BEFORE_END, TRAIN_END = 0.35, 0.65


@dataclass(frozen=True)
class TTTOptions:
    variations: int = option(4, "Number of variations of the question to train on (leave-one-out over them).",
                             minimum=1, maximum=16)
    steps: int = option(3, "Optimiser steps; each step takes the whole leave-one-out set as one batch.",
                        minimum=1, maximum=64)
    rank: int = option(8, "LoRA rank: the width of the adapter's low-rank update.", minimum=1, maximum=128)
    alpha: float = option(16.0, "LoRA alpha: the update is scaled by alpha / rank.", minimum=0.1, maximum=1024.0)
    target_modules: str = option(
        "q_proj,v_proj", "Comma-separated names of the linear layers that get an adapter, such as "
        "q_proj,k_proj,v_proj,o_proj for a Llama-style model.",
    )
    learning_rate: float = option(1e-3, "AdamW learning rate of the adapter.", minimum=1e-6, maximum=0.1)
    votes: int = option(
        3, "Typed questions only: answers sampled to label each self-generated variant; a variant is kept "
        "when more than half of them agree.", minimum=2, maximum=16,
    )
    show_variations: bool = option(
        True, "Put the variations before the question as worked examples when answering, before and after "
        "adapting, as the paper's prompt does; the training examples have the same form.",
    )

    def __post_init__(self) -> None:
        modules = self.module_names()
        if not modules or not all(_MODULE_NAME.match(name) for name in modules):
            raise InputError(
                f"ttt option target_modules must be layer names separated by commas, such as q_proj,v_proj; "
                f"got {self.target_modules!r}."
            )

    def module_names(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.target_modules.split(",") if part.strip())


def adapt_and_answer(question: Question, options: TTTOptions, ctx: RunContext, decode: Decode) -> TechniqueResult:
    """Build variations, answer before adapting, train a temporary adapter, answer with it, delete it."""
    start = time.perf_counter()

    # 0. Refuse settings the model cannot take (unknown target modules) before any work.
    settings = LoraSettings(rank=options.rank, alpha=options.alpha, target_modules=options.module_names(),
                            learning_rate=options.learning_rate, seed=ctx.seed)
    ctx.model.check_adapter(settings)

    # 1. Variations of the question, and the prompt both answers use.
    ctx.report(Progress(trace="", fraction=0.0, message="Building variations of the question"))
    found = build_variations(question, options.variations, options.votes, ctx)
    prompt_examples = _prompt_examples(ctx.examples, found.variations) if options.show_variations else ctx.examples
    answer_ctx = dataclasses.replace(ctx, examples=prompt_examples)
    details: dict[str, Any] = _variation_details(found) | {"train_loss": [], "adapted": False,
                                                            "variation_seconds": round(time.perf_counter() - start, 3)}
    if ctx.cancel.is_set():
        return _stopped(details, found.tokens, start, "while building variations")

    # 2. The answer of the base model, with the same prompt and decoding.
    before = decode(_scaled(answer_ctx, 0.05, BEFORE_END, "Answering before adapting"))
    details |= {"answer_before": before.answer, "verdict_before": str(before.verdict),
                "trace_before": before.trace, "tokens_before": before.completion_tokens,
                "before_seconds": round(before.seconds, 3)}
    tokens = found.tokens + before.completion_tokens
    if ctx.cancel.is_set() or before.verdict is Verdict.CANCELLED:
        return _stopped(details, tokens, start, "while answering before adapting")
    if not found.variations:
        details["not_adapted"] = "No variation could be built, so the answer is the base model's."
        return _finish(before, details, tokens, start)

    # 3. Leave-one-out: each variation is the question once, with the others as its worked examples.
    training_set = leave_one_out(found.variations, ctx.examples, options.show_variations)

    # 4. A throw-away adapter: train, answer, delete (the with block removes it, also on Stop or error).
    train_start = time.perf_counter()
    with ctx.model.temporary_adapter(settings) as trainer:
        for step in range(options.steps):
            if ctx.cancel.is_set():
                break
            loss = trainer.step(training_set, ctx.cancel)
            if loss is None:  # stopped in the middle of the step
                break
            details["train_loss"].append(round(loss, 5))
            fraction = BEFORE_END + (TRAIN_END - BEFORE_END) * (step + 1) / options.steps
            ctx.report(Progress(trace=_loss_line(details["train_loss"], options.steps), fraction=fraction,
                                message=f"Training step {step + 1} of {options.steps}, loss {loss:.3f}"))
        details["train_seconds"] = round(time.perf_counter() - train_start, 3)
        if ctx.cancel.is_set():
            done = len(details["train_loss"])
            return _stopped(details, tokens, start, f"after {done} training step{'' if done == 1 else 's'}")
        after = decode(_scaled(answer_ctx, TRAIN_END, 1.0, "Answering with the adapter"))
    details |= {"adapted": True, "after_seconds": round(after.seconds, 3), "tokens_after": after.completion_tokens}
    return _finish(after, details, tokens + after.completion_tokens, start)


def leave_one_out(variations: tuple[Variation, ...], context: tuple[WorkedExample, ...],
                  show_variations: bool) -> list[TrainingExample]:
    """Build one training chat per variation, with the other variations as worked examples and its solution as the reply."""
    examples = []
    for index, held_out in enumerate(variations):
        others = _within_budget([v.example() for i, v in enumerate(variations) if i != index]) if show_variations else ()
        held_out_question = Question(text=held_out.question, reference=None, source="typed")
        messages = chain_of_thought(held_out_question, _prompt_examples(context, others))
        examples.append(TrainingExample(messages, worked_solution(held_out.solution, held_out.answer)))
    return examples


def _within_budget(examples: list[WorkedExample]) -> tuple[WorkedExample, ...]:
    """Return the first examples whose questions and solutions together stay within MAX_CONTEXT_CHARS."""
    kept, used = [], 0
    for example in examples:
        used += len(example.question) + len(example.solution)
        if used > MAX_CONTEXT_CHARS:
            break
        kept.append(example)
    return tuple(kept)


def _prompt_examples(context: tuple[WorkedExample, ...], extra: tuple[Variation, ...] | tuple[WorkedExample, ...]
                     ) -> tuple[WorkedExample, ...]:
    """Return the context stage's examples, then the extra ones whose question is not already among them."""
    seen = {normalise_question(example.question) for example in context}
    added = []
    for item in extra:
        example = item.example() if isinstance(item, Variation) else item
        if normalise_question(example.question) not in seen:
            seen.add(normalise_question(example.question))
            added.append(example)
    return context + tuple(added)


def _scaled(ctx: RunContext, low: float, high: float, message: str) -> RunContext:
    """Return a context whose progress reports fill [low, high] of the column's bar, with the given message."""
    def report(progress: Progress) -> None:
        ctx.report(dataclasses.replace(progress, fraction=low + (high - low) * progress.fraction,
                                       message=progress.message or message))
    return dataclasses.replace(ctx, report=report)


def _variation_details(found: VariationSet) -> dict[str, Any]:
    return {
        "variations": len(found.variations),
        "variation_source": "+".join(found.sources) or "none",
        "variation_list": [
            {"question": v.question[:QUESTION_PREVIEW_CHARS], "answer": v.answer, "source": v.source, "note": v.note}
            for v in found.variations
        ],
        "variations_dropped": list(found.dropped),
        "variation_tokens": found.tokens,
    }


def _loss_line(losses: list[float], steps: int) -> str:
    return f"Training the adapter: step {len(losses)} of {steps}\nloss per step: " + ", ".join(f"{x:.3f}" for x in losses)


def _finish(result: TechniqueResult, details: dict[str, Any], tokens: int, start: float) -> TechniqueResult:
    result.technique = "ttt"
    result.details = details | result.details
    result.completion_tokens = tokens
    result.seconds = time.perf_counter() - start
    return result


def _stopped(details: dict[str, Any], tokens: int, start: float, when: str) -> TechniqueResult:
    return TechniqueResult(
        technique="ttt",
        trace=f"Stopped {when}; the adapter was removed.",
        answer=None,
        verdict=Verdict.CANCELLED,
        score=None,
        completion_tokens=tokens,
        seconds=time.perf_counter() - start,
        extractor_version=EXTRACTOR_VERSION,
        details=details,
    )
