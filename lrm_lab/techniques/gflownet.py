"""GFlowNet sampling: switch on a LoRA adapter trained to draw reasoning chains in proportion to a reward, sample N, vote.

After Bengio et al. 2021 (flow networks), Malkin et al. 2022 (trajectory balance) and Hu et al.
2023 ("Amortizing intractable inference in large language models", GFNOrg/gfn-lm-tuning).
Reward-maximising fine-tuning concentrates on one likely chain. A GFlowNet sampler keeps every
chain in proportion to its reward, so N samples can cover more distinct correct chains.

The reward of a chain y for a problem x is

    log R(x, y) = log(max(score, floor)) / reward_temperature + likelihood_weight * log p_base(y | x)

where ``score`` is the verifier's score of y's answer against the training problem's reference.
The floor keeps wrong chains a small reward, and the base likelihood keeps the chains fluent:
with weight 1 the target is the base model's distribution over chains, tilted towards correct
ones. Training is in service/gflownet.py, its loop in techniques/flow_training.py, the balance
objectives in models/gflownet.py.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lrm_lab.errors import InputError
from lrm_lab.models.base import Completion, SamplingParams
from lrm_lab.tasks.question import Question, normalise_question
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.tasks.verify import check, check_without_reference
from lrm_lab.techniques.flow_training import Reward
from lrm_lab.techniques.options import option
from lrm_lab.techniques.prompts import chain_of_thought
from lrm_lab.techniques.result import AdapterChoice, Progress, RunContext, TechniqueResult
from lrm_lab.techniques.search import Candidate, answer_key, candidate_rows, checked_candidates, diversity, majority_vote

AGGREGATION_LABELS = {
    "majority": "majority vote over the N answers",
    "reward_weighted": "reward-weighted vote (needs a verifier that does not read the reference; else majority)",
}
OBJECTIVE_LABELS = {
    "tb_batch": "trajectory balance, log Z estimated from each batch (VarGrad)",
    "tb": "trajectory balance with a learned log Z per training problem",
    "subtb": "sub-trajectory balance over every pair of prefixes (Hu et al. 2023)",
}
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class GFlowNetOptions:
    adapter: str = option("", "Name of the trained adapter to switch on; empty picks the newest one trained for "
                              "the question's family on the loaded model.")
    n: int = option(8, "Number of chains sampled from the adapter, in one batch.", minimum=1, maximum=64, in_label=True)
    aggregation: str = option("majority", "How to pick one answer from the N chains.",
                              choices=tuple(AGGREGATION_LABELS), labels=AGGREGATION_LABELS)
    temperature: float = option(1.0, "Sampling temperature. The adapter was trained to match the reward at 1.0; "
                                     "other values leave its trained distribution.", minimum=0.05, maximum=2.0)
    max_new_tokens: int = option(96, "Maximum tokens per chain. The adapter's training length samples exactly the "
                                     "distribution it learned.", minimum=1, maximum=4096)
    compare_base: bool = option(True, "Also sample N chains from the base model (adapter off) with the same prompt, "
                                      "temperature and seed, and show both side by side. Their tokens are counted "
                                      "apart, in the details.")


@dataclass(frozen=True)
class GFlowNetTrainOptions:
    """Settings of one training run. The defaults take about 3 minutes on a 2-core CPU with the embedded model."""

    steps: int = option(16, "Optimiser steps; each takes one batch of chains for one training problem.",
                        minimum=1, maximum=5000)
    problems: int = option(8, "Training problems generated from the family, with seeds that evaluation never uses.",
                           minimum=1, maximum=1000)
    batch_size: int = option(4, "Chains per step, sampled in one batch.", minimum=2, maximum=64)
    max_new_tokens: int = option(96, "Maximum tokens per chain; a longer chain is cut and forced to stop.",
                                 minimum=8, maximum=1024)
    objective: str = option("tb_batch", "The balance objective.", choices=tuple(OBJECTIVE_LABELS),
                            labels=OBJECTIVE_LABELS)
    learning_rate: float = option(1e-3, "AdamW learning rate of the adapter; it falls linearly to a tenth by the "
                                        "last step.", minimum=1e-6, maximum=0.1)
    log_z_learning_rate: float = option(0.1, "Learning rate of the learned log Z values (objective tb).",
                                        minimum=1e-4, maximum=1.0)
    reward_temperature: float = option(0.5, "The verifier's score is raised to the power 1 / this; lower values "
                                            "favour correct chains more.", minimum=0.05, maximum=10.0)
    reward_floor: float = option(0.05, "Smallest score a chain gets, so that wrong chains keep a small reward.",
                                 minimum=1e-6, maximum=1.0)
    likelihood_weight: float = option(1.0, "Weight of the base model's log-likelihood of the chain in the log-reward; "
                                           "0 rewards the answer alone.", minimum=0.0, maximum=2.0)
    explore_probability: float = option(0.5, "Share of sampled steps that draw their chains at an exploring "
                                             "temperature.", minimum=0.0, maximum=1.0)
    explore_temperature: float = option(1.5, "Highest exploring temperature; each exploring step draws one "
                                             "between 0.5 and this.", minimum=0.5, maximum=3.0)
    replay_probability: float = option(0.25, "Share of steps that train on the best chains found so far "
                                             "instead of new samples.", minimum=0.0, maximum=1.0)
    rank: int = option(8, "LoRA rank.", minimum=1, maximum=128)
    alpha: float = option(16.0, "LoRA alpha: the update is scaled by alpha / rank.", minimum=0.1, maximum=1024.0)
    target_modules: str = option("q_proj,v_proj", "Comma-separated names of the linear layers that get an adapter.")
    seed: int = option(0, "Seeds the training problems, the adapter's initialisation and the sampling.",
                       minimum=0, maximum=2**31 - 1)

    def __post_init__(self) -> None:
        modules = self.module_names()
        if not modules or not all(_MODULE_NAME.match(name) for name in modules):
            raise InputError(f"target_modules must be layer names separated by commas, such as q_proj,v_proj; "
                             f"got {self.target_modules!r}.")

    def module_names(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.target_modules.split(",") if part.strip())


def chain_reward(question: Question, completion: Completion, options: GFlowNetTrainOptions, per_prefix: bool,
                 decode: Callable[[list[int]], str]) -> Reward:
    """Reward a sampled chain for a training problem: the verifier's score, floored and tempered.

    With ``per_prefix`` (sub-trajectory balance) the chain is also scored as if it stopped after
    each prefix; ``decode`` turns token ids into text for that. The base likelihood term is added
    by the trainer, which has the model.
    """
    def log_reward(score: float | None) -> float:
        return math.log(max(score or 0.0, options.reward_floor)) / options.reward_temperature

    score = check(question, completion.text).score or 0.0
    if not per_prefix:
        return Reward((log_reward(score),), score)
    ids = list(completion.token_ids)
    if ids and completion.finish_reason == "stop":
        ids = ids[:-1]
    scores: dict[str, float] = {}  # a prefix's text often repeats the last one's answer: score each text once
    values = []
    for length in range(len(ids) + 1):
        text = decode(ids[:length]) if length else ""
        if text not in scores:
            scores[text] = check(question, text).score or 0.0
        values.append(log_reward(scores[text]))
    return Reward(tuple(values), score)


def run_gflownet(question: Question, options: GFlowNetOptions, ctx: RunContext) -> TechniqueResult:
    """Switch the adapter on, sample N chains in one batch, check each, and aggregate their answers."""
    start = time.perf_counter()
    if ctx.adapters is None:
        raise InputError("GFlowNet sampling needs the lab's stored adapters; run it from the app, the CLI or a benchmark.")

    # 1. The adapter: the named one, or the newest trained for this family on the loaded model.
    choice = ctx.adapters.find("gflownet", options.adapter or None, question.family, ctx.model.info)
    messages = chain_of_thought(question, ctx.examples)

    # 2. N chains in one batched call with the adapter on; the block holds the model's lock.
    def on_tokens(texts: list[str], steps: int) -> None:
        ctx.report(Progress(trace=texts[0], fraction=steps / options.max_new_tokens, candidates=tuple(texts),
                            message=f"Sampling {options.n} chains with adapter {choice.name}"))

    params = SamplingParams(n=options.n, temperature=options.temperature, max_new_tokens=options.max_new_tokens,
                            seed=ctx.seed)
    with ctx.model.stored_adapter(choice.folder):
        completions = ctx.model.generate(messages, params, on_tokens=on_tokens, cancel=ctx.cancel)

    # 3. Check every chain (the verdicts are for display), then aggregate without the reference.
    candidates = checked_candidates(question, completions)
    chosen_index, used, note = _aggregate(question, candidates, options.aggregation, choice)
    chosen = candidates[chosen_index]
    chosen.chosen = True
    cancelled = any(c.finish_reason == "cancelled" for c in candidates)
    details = _details(question, options, choice, candidates, chosen, used, note)

    # 4. The same N from the base model, for the side-by-side view.
    if options.compare_base and not cancelled and not ctx.cancel.is_set():
        ctx.report(Progress(trace=chosen.text, fraction=0.5, message=f"Sampling {options.n} chains from the base model"))
        details["base"] = _base_sampling(question, messages, params, options, choice, ctx)
        cancelled = details["base"]["cancelled"]

    return TechniqueResult(
        technique="gflownet",
        trace=chosen.text,
        answer=chosen.check.answer,
        verdict=Verdict.CANCELLED if cancelled else chosen.check.verdict,
        score=chosen.check.score,
        completion_tokens=sum(c.completion_tokens for c in candidates),
        seconds=time.perf_counter() - start,
        extractor_version=chosen.check.extractor_version,
        details=details,
    )


def _base_sampling(question: Question, messages: list, params: SamplingParams, options: GFlowNetOptions,
                   choice: AdapterChoice, ctx: RunContext) -> dict[str, Any]:
    """Sample the same N chains with the adapter off and aggregate them the same way."""
    completions = ctx.model.generate(messages, params, cancel=ctx.cancel)
    candidates = checked_candidates(question, completions)
    index, _, _ = _aggregate(question, candidates, options.aggregation, choice)
    candidates[index].chosen = True
    votes = Counter(answer_key(c.check.answer) for c in candidates if c.check.answer is not None)
    return {
        "answer": candidates[index].check.answer,
        "verdict": str(candidates[index].check.verdict),
        "votes": dict(votes.most_common()),
        **diversity(candidates),
        "any_correct": any(c.check.verdict == Verdict.CORRECT for c in candidates),
        "unparsed_candidates": sum(c.check.verdict == Verdict.UNPARSED for c in candidates),
        "tokens": sum(c.completion_tokens for c in candidates),
        "cancelled": any(c.finish_reason == "cancelled" for c in candidates),
        "candidates": candidate_rows(candidates),
    }


def _aggregate(question: Question, candidates: list[Candidate], aggregation: str, choice: AdapterChoice
               ) -> tuple[int, str, str]:
    """Return the chosen index, the aggregation used and a note on why it differs from the one asked for."""
    if aggregation == "reward_weighted":
        checks = [check_without_reference(question, c.text) for c in candidates]
        if all(found is not None for found in checks):
            # Each answer's weight is the sum of its chains' tempered rewards, as in training.
            settings = choice.settings
            floor, temperature = settings.get("reward_floor", 0.05), settings.get("reward_temperature", 0.5)
            weights: Counter[str] = Counter()
            for candidate, found in zip(candidates, checks):
                if candidate.check.answer is not None:
                    weights[answer_key(candidate.check.answer)] += max(found.score or 0.0, floor) ** (1 / temperature)
            for candidate in candidates:
                answer = candidate.check.answer
                candidate.score = round(weights[answer_key(answer)], 6) if answer is not None else 0.0
            return max(candidates, key=lambda c: (c.score, -c.index)).index, "reward_weighted", ""
        note = (f"{question.family or 'this question'} has no verifier that works without the reference answer, "
                "so the answers were counted by majority vote.")
        return majority_vote(candidates), "majority", note
    return majority_vote(candidates), "majority", ""


def _details(question: Question, options: GFlowNetOptions, choice: AdapterChoice, candidates: list[Candidate],
             chosen: Candidate, used: str, note: str) -> dict[str, Any]:
    votes = Counter(answer_key(c.check.answer) for c in candidates if c.check.answer is not None)
    trained_length = choice.settings.get("max_new_tokens")
    seen = (question.seed is not None and question.seed in choice.settings.get("problem_seeds", ())
            or normalise_question(question.text) in choice.settings.get("problem_texts", ()))
    return {
        "adapter": choice.name,
        "adapter_family": choice.family,
        "adapter_steps": choice.steps_done,
        "adapter_objective": choice.settings.get("objective"),
        "adapter_max_new_tokens": trained_length,
        "n": options.n,
        "temperature": options.temperature,
        "aggregation": options.aggregation,
        "aggregation_used": used,
        "aggregation_note": note,
        "uses_reference": False,
        "seen_in_training": seen,
        "family_note": (f"The adapter was trained on {choice.family}, not on {question.family or 'typed questions'}."
                        if choice.family != question.family else ""),
        "chosen_index": chosen.index,
        "votes": dict(votes.most_common()),
        **diversity(candidates),
        "any_correct": any(c.check.verdict == Verdict.CORRECT for c in candidates),
        "unparsed_candidates": sum(c.check.verdict == Verdict.UNPARSED for c in candidates),
        "candidates": candidate_rows(candidates),
    }
