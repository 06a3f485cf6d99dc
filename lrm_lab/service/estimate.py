"""Estimate a benchmark's tokens and time before it starts, from stored attempts or a short measurement.

For a recipe with at least MIN_STORED_ATTEMPTS stored attempts on this model and device, the
estimate is their mean seconds and tokens. Otherwise the model decodes CALIBRATION_TOKENS tokens
once, and each attempt is assumed to run to max_new_tokens. Most answers stop earlier, so this
usually overestimates, but a machine busier during the run than during the measurement is slower.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from dataclasses import dataclass

from lrm_lab.errors import InputError
from lrm_lab.models.base import ModelBackend, SamplingParams
from lrm_lab.service.benchmark import BenchmarkPlan
from lrm_lab.store import Store

log = logging.getLogger(__name__)

CONFIRM_SECONDS_VARIABLE = "LRM_LAB_CONFIRM_SECONDS"
DEFAULT_CONFIRM_SECONDS = 600.0
MIN_STORED_ATTEMPTS = 3
CALIBRATION_TOKENS = 16
# Cost of one decoding step of an N-sample batch relative to one sample: 1 + BATCH_STEP_COST * (N - 1).
# Measured with bench/generation.py on a 2-core CPU (embedded model, fp32): 8 samples took 1.73 times
# as long as one. On a GPU the real factor is closer to 1, so this errs towards longer estimates.
BATCH_STEP_COST = 0.1
# Cost of one TTT training example (a forward and backward pass over a leave-one-out chat) in
# decoding steps. Measured with bench/ttt.py on a 2-core CPU with the embedded model: 12 examples
# of basic_arithmetic (3 steps of 4 variations) took 14.3-15.5 s, and one decoding step 0.067 s.
TRAIN_EXAMPLE_STEPS = 18

_step_seconds: weakref.WeakKeyDictionary[ModelBackend, float] = weakref.WeakKeyDictionary()
_step_lock = threading.Lock()


@dataclass(frozen=True)
class RecipeEstimate:
    label: str
    attempts: int
    tokens: float  # expected completion tokens of all its attempts
    seconds: float
    basis: str  # how the figures were obtained, for the user


@dataclass(frozen=True)
class Estimate:
    recipes: tuple[RecipeEstimate, ...]
    threshold_seconds: float  # above this the user must confirm before the run starts

    @property
    def attempts(self) -> int:
        return sum(recipe.attempts for recipe in self.recipes)

    @property
    def tokens(self) -> int:
        return round(sum(recipe.tokens for recipe in self.recipes))

    @property
    def seconds(self) -> float:
        return sum(recipe.seconds for recipe in self.recipes)

    @property
    def needs_confirmation(self) -> bool:
        return self.seconds > self.threshold_seconds

    def text(self) -> str:
        """Describe the estimate in a few lines of Markdown."""
        lines = [f"**Estimate:** {self.attempts} attempts, about {self.tokens:,} completion tokens and "
                 f"{format_duration(self.seconds)} on this machine."]
        lines += [f"- {recipe.label}: {recipe.attempts} attempts, {format_duration(recipe.seconds)} ({recipe.basis})"
                  for recipe in self.recipes]
        if self.needs_confirmation:
            lines.append(f"This is longer than {format_duration(self.threshold_seconds)}, so it needs confirmation.")
        return "\n".join(lines)


def confirm_threshold() -> float:
    """Return the estimated seconds above which a benchmark needs confirmation (LRM_LAB_CONFIRM_SECONDS)."""
    raw = os.environ.get(CONFIRM_SECONDS_VARIABLE, "")
    if not raw:
        return DEFAULT_CONFIRM_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not seconds >= 0:  # also rejects NaN, which would turn confirmation off
        raise InputError(f"{CONFIRM_SECONDS_VARIABLE} must be a number of seconds >= 0, got {raw!r}.")
    return seconds


def estimate_benchmark(plan: BenchmarkPlan, model: ModelBackend, store: Store, skip: frozenset[str] = frozenset()) -> Estimate:
    """Estimate the items of ``plan`` whose keys are not in ``skip`` (the stored ones of a resumed run)."""
    counts = [0] * len(plan.recipes)
    for item in plan.items():
        if item.key not in skip:
            counts[item.recipe] += 1

    estimates = []
    for recipe, count in zip(plan.recipes, counts):
        cost = store.recipe_cost(model_id=model.info.model_id, device=model.info.device, recipe=recipe.label)
        if cost.attempts >= MIN_STORED_ATTEMPTS:
            estimates.append(RecipeEstimate(recipe.label, count, count * cost.mean_tokens, count * cost.mean_seconds,
                                            f"mean of {cost.attempts} stored attempts"))
            continue
        steps = recipe.max_new_tokens
        step_seconds = decode_step_seconds(model)
        seconds = steps * step_seconds * (1 + BATCH_STEP_COST * (recipe.samples - 1))
        tokens = steps * recipe.samples
        basis = "from a decoding measurement, assuming every sample runs to max_new_tokens"
        if recipe.adaptation == "ttt":
            # TTT decodes twice (before and after adapting) and trains on every variation at every step.
            # NOTE: a typed question's self-generated variants are not counted; they add minutes each.
            ttt = recipe.options["ttt"]
            seconds = 2 * seconds + ttt.steps * ttt.variations * TRAIN_EXAMPLE_STEPS * step_seconds
            tokens *= 2
            basis += f", twice, plus {ttt.steps * ttt.variations} training passes"
        if getattr(recipe.options.get(recipe.decoding), "compare_base", False):
            # GFlowNet samples the same N again from the base model for its side-by-side view.
            seconds, tokens = 2 * seconds, 2 * tokens
            basis += ", twice (adapter and base model)"
        estimates.append(RecipeEstimate(recipe.label, count, count * tokens, count * seconds, basis))
    return Estimate(tuple(estimates), confirm_threshold())


def decode_step_seconds(model: ModelBackend) -> float:
    """Measure the seconds per decoding step of one greedy stream, once per loaded model."""
    with _step_lock:
        if model in _step_seconds:
            return _step_seconds[model]
        messages = [{"role": "user", "content": "Count from one to twenty."}]
        # The first generate call after loading is several times slower (one-time setup), so warm up first.
        model.generate(messages, SamplingParams(n=1, temperature=0.0, max_new_tokens=2, seed=0, ignore_eos=True))
        params = SamplingParams(n=1, temperature=0.0, max_new_tokens=CALIBRATION_TOKENS, seed=0, ignore_eos=True)
        start = time.perf_counter()
        model.generate(messages, params)
        seconds = (time.perf_counter() - start) / CALIBRATION_TOKENS
        log.info("measured %.3f s per decoding step on %s", seconds, model.info.model_id)
        _step_seconds[model] = seconds
        return seconds


def format_duration(seconds: float) -> str:
    """Format seconds as "45 s", "12 min" or "2.5 h"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
