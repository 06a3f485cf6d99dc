"""Baseline: one greedy chain-of-thought answer (Wei et al. 2022, "Chain-of-Thought Prompting")."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from lrm_lab.models.base import SamplingParams
from lrm_lab.tasks.question import Question
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.tasks.verify import check
from lrm_lab.techniques.options import option
from lrm_lab.techniques.prompts import chain_of_thought
from lrm_lab.techniques.result import Progress, RunContext, TechniqueResult
from lrm_lab.techniques.technique import Rescored


@dataclass(frozen=True)
class BaselineOptions:
    max_new_tokens: int = option(256, "Maximum number of tokens the model may generate for its answer.", minimum=1, maximum=4096)


def run_baseline(question: Question, options: BaselineOptions, ctx: RunContext) -> TechniqueResult:
    """Generate one greedy answer, extract it and check it against the reference."""
    start = time.perf_counter()

    # Stream the trace to the UI while the model writes it.
    def on_tokens(texts: list[str], steps: int) -> None:
        ctx.report(Progress(trace=texts[0], fraction=steps / options.max_new_tokens))

    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=options.max_new_tokens, seed=ctx.seed)
    completion = ctx.model.generate(chain_of_thought(question, ctx.examples), params, on_tokens=on_tokens, cancel=ctx.cancel)[0]

    # Extract the answer and give the verdict; a stopped generation is cancelled, not wrong.
    outcome = check(question, completion.text)
    verdict = Verdict.CANCELLED if completion.finish_reason == "cancelled" else outcome.verdict
    return TechniqueResult(
        technique="baseline",
        trace=completion.text,
        answer=outcome.answer,
        verdict=verdict,
        score=outcome.score,
        completion_tokens=completion.completion_tokens,
        seconds=time.perf_counter() - start,
        extractor_version=outcome.extractor_version,
        details={"finish_reason": completion.finish_reason, "verdict_note": outcome.note},
    )


def rescore_baseline(question: Question, trace: str, options: dict[str, Any], details: dict[str, Any]) -> Rescored:
    """Extract the answer of the stored trace again and check it against the reference."""
    outcome = check(question, trace)
    return Rescored(
        answer=outcome.answer,
        verdict=outcome.verdict,
        score=outcome.score,
        extractor_version=outcome.extractor_version,
        details={"verdict_note": outcome.note},
    )
