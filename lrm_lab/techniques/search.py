"""Search: spend N samples on one question and pick an answer from them.

Strategies, each a function with the same signature in `STRATEGIES`:
- self-consistency: majority vote over the extracted answers (Wang et al. 2022);
- best-of-N, oracle verifier: the candidate the reference answer scores highest. It uses the
  reference answer, so its accuracy is an upper bound for the N samples, not a real method;
- best-of-N, self-scored: the candidate with the highest mean token log-probability under the
  model itself, a verifier-free scorer (compare Snell et al. 2024 on scaling test-time compute).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lrm_lab.errors import InputError
from lrm_lab.models.base import Completion, Message, ModelBackend, SamplingParams
from lrm_lab.tasks.question import Question, normalise_question
from lrm_lab.tasks.verdict import Check, Verdict
from lrm_lab.tasks.verify import check
from lrm_lab.techniques.options import option, parse_options
from lrm_lab.techniques.prompts import chain_of_thought
from lrm_lab.techniques.result import Progress, RunContext, TechniqueResult
from lrm_lab.techniques.technique import Rescored

STRATEGY_LABELS = {
    "self_consistency": "self-consistency (majority vote)",
    "best_of_n_oracle": "best-of-N, oracle verifier (uses the reference answer)",
    "best_of_n_self": "best-of-N, scored by the model's own mean log-probability",
}


@dataclass(frozen=True)
class SearchOptions:
    strategy: str = option(
        "self_consistency",
        "How to pick one answer from the N samples.",
        choices=tuple(STRATEGY_LABELS),
        labels=STRATEGY_LABELS,
    )
    n: int = option(4, "Number of samples, generated in one batch.", minimum=1, maximum=64, in_label=True)
    temperature: float = option(0.7, "Sampling temperature; higher gives more varied samples.", minimum=0.05, maximum=2.0)
    max_new_tokens: int = option(256, "Maximum number of tokens each sample may generate.", minimum=1, maximum=4096)


@dataclass
class Candidate:
    """One sample with its extracted answer, its after-the-fact verdict and its strategy score."""

    index: int
    text: str
    completion_tokens: int
    finish_reason: str
    check: Check
    score: float | None = None  # strategy score: votes, oracle score or mean log-probability
    chosen: bool = False


def checked_candidates(question: Question, completions: list[Completion]) -> list[Candidate]:
    """Extract and check the answer of every sample, keeping its text, tokens and finish reason."""
    return [Candidate(i, c.text, c.completion_tokens, c.finish_reason, check(question, c.text))
            for i, c in enumerate(completions)]


def answer_key(answer: str) -> str:
    """Normalise an extracted answer for voting, so that '25', '25.0' and ' 25 ' count as one."""
    text = answer.strip().lower().replace(" ", "").rstrip(".")
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else repr(number)


# Strategies: pick the index of the chosen candidate and set each candidate's score.
Strategy = Callable[[list[Candidate], ModelBackend, list[Message]], int]


def self_consistency(candidates: list[Candidate], model: ModelBackend, messages: list[Message]) -> int:
    """Majority vote over parsed answers; ties go to the answer that appeared first."""
    return majority_vote(candidates)


def majority_vote(candidates: list[Candidate]) -> int:
    """Score each candidate by the votes for its answer and return the index of the most voted one."""
    votes = Counter(answer_key(c.check.answer) for c in candidates if c.check.answer is not None)
    for candidate in candidates:
        candidate.score = votes[answer_key(candidate.check.answer)] if candidate.check.answer is not None else 0
    best = max(candidates, key=lambda c: (c.score, -c.index))
    return best.index


def best_of_n_oracle(candidates: list[Candidate], model: ModelBackend, messages: list[Message]) -> int:
    """Pick the candidate the reference answer scores highest (an upper bound, not a method)."""
    return pick_by_oracle(candidates)


def pick_by_oracle(candidates: list[Candidate]) -> int:
    """Score each candidate by its check's score against the reference and return the best one's index."""
    for candidate in candidates:
        candidate.score = candidate.check.score if candidate.check.score is not None else 0.0
    best = max(candidates, key=lambda c: (c.score, -c.index))
    return best.index


def best_of_n_self(candidates: list[Candidate], model: ModelBackend, messages: list[Message]) -> int:
    """Pick the candidate with the highest mean token log-probability under the model."""
    token_log_probs = model.logprobs(messages, [c.text for c in candidates])
    for candidate, log_probs in zip(candidates, token_log_probs):
        candidate.score = sum(log_probs) / len(log_probs) if log_probs else -math.inf
    best = max(candidates, key=lambda c: (c.score, -c.index))
    return best.index


STRATEGIES: dict[str, Strategy] = {
    "self_consistency": self_consistency,
    "best_of_n_oracle": best_of_n_oracle,
    "best_of_n_self": best_of_n_self,
}

# Strategies that choose from the candidates' checks alone, so re-scoring can choose again without the model.
CHECK_ONLY_STRATEGIES: dict[str, Callable[[list[Candidate]], int]] = {
    "self_consistency": majority_vote,
    "best_of_n_oracle": pick_by_oracle,
}


def run_search(question: Question, options: SearchOptions, ctx: RunContext) -> TechniqueResult:
    """Sample N answers in one batch, check each, and let the strategy choose one."""
    start = time.perf_counter()
    messages = chain_of_thought(question, ctx.examples)

    # 1. Sample N chains in one batched generate call, streaming every one of them.
    def on_tokens(texts: list[str], steps: int) -> None:
        ctx.report(Progress(trace=texts[0], fraction=steps / options.max_new_tokens, candidates=tuple(texts)))

    params = SamplingParams(
        n=options.n, temperature=options.temperature, max_new_tokens=options.max_new_tokens, seed=ctx.seed
    )
    completions = ctx.model.generate(messages, params, on_tokens=on_tokens, cancel=ctx.cancel)

    # 2. Extract and grade every candidate. Only the oracle strategy reads these verdicts.
    candidates = checked_candidates(question, completions)

    # 3. Let the strategy score the candidates and choose one.
    ctx.report(Progress(trace=candidates[0].text, fraction=1.0, message=f"choosing by {options.strategy}"))
    chosen = candidates[STRATEGIES[options.strategy](candidates, ctx.model, messages)]
    chosen.chosen = True

    cancelled = any(c.finish_reason == "cancelled" for c in candidates)
    return TechniqueResult(
        technique="search",
        trace=chosen.text,
        answer=chosen.check.answer,
        verdict=Verdict.CANCELLED if cancelled else chosen.check.verdict,
        score=chosen.check.score,
        completion_tokens=sum(c.completion_tokens for c in candidates),
        seconds=time.perf_counter() - start,
        extractor_version=chosen.check.extractor_version,
        details=_details(options, candidates, chosen),
    )


def rescore_search(question: Question, trace: str, options: dict[str, Any], details: dict[str, Any]) -> Rescored:
    """Check every stored sample again with the current extractor and choose again where the strategy allows.

    Self-consistency votes again and the oracle picks by the new scores, so the chosen sample
    may change. Best-of-N self-scored keeps its stored choice, because its scores are the
    model's log-probabilities, which no extractor changes. Raises InputError when the attempt
    stored no samples or its options are no longer valid.
    """
    parsed = parse_options(SearchOptions, options, "search")
    stored = details.get("candidates") or []
    if not stored:
        raise InputError("This search attempt stored no samples, so there is nothing to re-check.")

    # 1. Extract and grade every stored sample again.
    candidates = [
        Candidate(i, c["text"], c["completion_tokens"], c["finish_reason"], check(question, c["text"]))
        for i, c in enumerate(stored)
    ]
    old_index = details.get("chosen_index", next((i for i, c in enumerate(stored) if c.get("chosen")), 0))

    # 2. Choose again from the new checks, or keep the stored choice and log-probability scores.
    choose_again = CHECK_ONLY_STRATEGIES.get(parsed.strategy)
    if choose_again is not None:
        new_index = choose_again(candidates)
    else:
        for candidate, stored_candidate in zip(candidates, stored):
            score = stored_candidate.get("score")
            candidate.score = -math.inf if score is None else score  # None was an empty sample's -inf
        new_index = old_index
    chosen = candidates[new_index]
    chosen.chosen = True

    note = f"chosen sample {old_index + 1} -> {new_index + 1}" if new_index != old_index else ""
    return Rescored(
        answer=chosen.check.answer,
        verdict=chosen.check.verdict,
        score=chosen.check.score,
        extractor_version=chosen.check.extractor_version,
        details=_details(parsed, candidates, chosen),
        note=note,
    )


def _json_score(score: float | int | None) -> float | int | None:
    """Votes stay whole numbers; an empty sample's -inf log-probability becomes None (JSON has no inf)."""
    if score is None or isinstance(score, int):
        return score
    return None if math.isinf(score) else round(float(score), 4)


def _details(options: SearchOptions, candidates: list[Candidate], chosen: Candidate) -> dict:
    votes = Counter(answer_key(c.check.answer) for c in candidates if c.check.answer is not None)
    return {
        "strategy": options.strategy,
        "strategy_label": STRATEGY_LABELS[options.strategy],
        "uses_reference": options.strategy == "best_of_n_oracle",
        "n": options.n,
        "temperature": options.temperature,
        "chosen_index": chosen.index,
        "votes": dict(votes.most_common()),
        # Graded with the reference after the fact, for display: was any sample right (pass@N)?
        "any_correct": any(c.check.verdict == Verdict.CORRECT for c in candidates),
        "unparsed_candidates": sum(c.check.verdict == Verdict.UNPARSED for c in candidates),
        **diversity(candidates),
        "candidates": candidate_rows(candidates),
    }


def diversity(candidates: list[Candidate]) -> dict[str, int]:
    """Count distinct parsed answers, and distinct correct chains compared by their normalised text."""
    answers = {answer_key(c.check.answer) for c in candidates if c.check.answer is not None}
    correct = {normalise_question(c.text) for c in candidates if c.check.verdict == Verdict.CORRECT}
    return {"distinct_answers": len(answers), "distinct_correct_chains": len(correct)}


def candidate_rows(candidates: list[Candidate]) -> list[dict[str, Any]]:
    """Return the candidates as stored in an attempt's details: answer, verdict, score, tokens, text."""
    return [
        {
            "index": c.index,
            "answer": c.check.answer,
            "verdict": str(c.check.verdict),
            "score": _json_score(c.score),
            "completion_tokens": c.completion_tokens,
            "finish_reason": c.finish_reason,
            "chosen": c.chosen,
            "text": c.text,
        }
        for c in candidates
    ]
