"""Variations of a question: the small training set that test-time training fits an adapter to.

Three sources, tried in this order:

- reasoning-gym siblings: the question's family and settings with other seeds, answered by the
  generator. The question's own reference is never used, and a sibling whose text equals the
  question's is skipped, because its answer would be the reference.
- memories: the worked examples that the memory stage put before a typed question.
- self-generated variants of a typed question: the model writes new problems of the same kind,
  samples several answers to each, and a variant keeps the majority answer as its label.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from typing import Literal

from lrm_lab.errors import InputError
from lrm_lab.models.base import SamplingParams
from lrm_lab.tasks.families import make_question
from lrm_lab.tasks.question import Question, normalise_question
from lrm_lab.tasks.verify import check
from lrm_lab.techniques.prompts import WorkedExample, chain_of_thought
from lrm_lab.techniques.result import Progress, RunContext

VariationSource = Literal["siblings", "memory", "self-generated"]

# Sibling seeds are drawn from the upper half of reasoning-gym's seed range, so that they do
# not coincide with the low seeds (0, 1, 2, ...) that benchmarks evaluate on.
SIBLING_SEEDS = (2**31, 2**32 - 1)
MAX_SIBLING_TRIES = 5  # per sibling wanted, for families whose siblings often repeat the question
VARIANT_PROMPT = (
    "Here is a problem:\n\n{question}\n\nWrite one new problem of the same kind with different numbers "
    "or details. Write only the new problem, without its solution."
)
MAX_VARIANT_CHARS = 600
VARIANT_TOKENS = 96  # tokens for writing one variant problem
LABEL_TOKENS = 128  # tokens for each answer sampled to label a variant


@dataclass(frozen=True)
class Variation:
    """A question like the one asked, with an answer from the generator, a memory or a vote."""

    question: str
    solution: str  # the reply the adapter is trained to give, ending with "Answer: <answer>"
    answer: str
    source: VariationSource
    note: str = ""  # where it came from: "seed 2718281828", "retrieved by the memory stage", "2 of 3 votes"

    def example(self) -> WorkedExample:
        return WorkedExample(self.question, self.solution, self.answer)


@dataclass(frozen=True)
class VariationSet:
    """The variations found, and what was tried that gave none (for the column to show)."""

    variations: tuple[Variation, ...]
    dropped: tuple[str, ...] = ()  # one line per candidate left out, and why
    tokens: int = 0  # tokens the model generated to make and label variants

    @property
    def sources(self) -> list[str]:
        return sorted({variation.source for variation in self.variations})


def build_variations(question: Question, count: int, votes: int, ctx: RunContext) -> VariationSet:
    """Return up to ``count`` variations of the question, from the first source that has any.

    A reasoning-gym question gets siblings. A typed question gets the memory stage's worked
    examples, and self-generated variants fill the rest.
    """
    if question.source == "reasoning_gym":
        return sibling_variations(question, count, ctx.seed)

    from_memory = memory_variations(question, ctx.examples)[:count]
    if len(from_memory) >= count:
        return VariationSet(from_memory)
    generated = self_generated_variations(question, count - len(from_memory), votes, ctx)
    return VariationSet(tuple(from_memory) + generated.variations, generated.dropped, generated.tokens)


def sibling_variations(question: Question, count: int, seed: int | None) -> VariationSet:
    """Generate ``count`` questions of the same family and settings with other seeds."""
    if question.family is None or question.seed is None:
        raise InputError("A reasoning-gym question without its family and seed has no siblings to train on.")
    rng = random.Random(f"ttt-siblings/{question.family}/{question.seed}/{seed or 0}")
    seen = {normalise_question(question.text)}
    variations: list[Variation] = []
    dropped: list[str] = []
    for _ in range(count * MAX_SIBLING_TRIES):
        if len(variations) == count:
            break
        sibling_seed = rng.randint(*SIBLING_SEEDS)
        sibling = make_question(question.family, question.settings, sibling_seed)
        key = normalise_question(sibling.text)
        if key in seen:
            dropped.append(f"seed {sibling_seed}: same text as the question or an earlier sibling")
            continue
        seen.add(key)
        answer = str(sibling.reference)
        variations.append(Variation(sibling.text, f"Answer: {answer}", answer, "siblings", f"seed {sibling_seed}"))
    return VariationSet(tuple(variations), tuple(dropped))


def memory_variations(question: Question, examples: tuple[WorkedExample, ...]) -> tuple[Variation, ...]:
    """Turn the memory stage's worked examples into variations, leaving out the question itself."""
    own = normalise_question(question.text)
    return tuple(
        Variation(example.question, example.solution, example.answer, "memory", "retrieved by the memory stage")
        for example in examples
        if normalise_question(example.question) != own
    )


def self_generated_variations(question: Question, count: int, votes: int, ctx: RunContext) -> VariationSet:
    """Ask the model for new problems like the question, and label each by its own majority vote.

    Twice ``count`` problems are sampled in one batch; the distinct ones are labelled in turn
    until ``count`` have a majority answer (more than half of ``votes`` samples agree).
    """
    tokens = 0
    dropped: list[str] = []

    # Write candidate problems in one batch of samples.
    ctx.report(Progress(trace="", fraction=0.0, message="Writing variants of the question"))
    prompt = [{"role": "user", "content": VARIANT_PROMPT.format(question=question.text.strip())}]
    params = SamplingParams(n=min(2 * count, 16), temperature=1.0, max_new_tokens=VARIANT_TOKENS, seed=ctx.seed)
    written = ctx.model.generate(prompt, params, cancel=ctx.cancel)
    tokens += sum(completion.completion_tokens for completion in written)
    candidates = _distinct_problems([completion.text for completion in written], question.text, dropped)

    # Label each candidate with the majority of its sampled answers; keep it only with a majority.
    variations: list[Variation] = []
    for index, text in enumerate(candidates):
        if len(variations) == count or ctx.cancel.is_set():
            break
        ctx.report(Progress(trace="", fraction=0.0, message=f"Labelling variant {index + 1} by majority vote"))
        variant = Question(text=text, reference=None, source="typed", answer_kind=question.answer_kind)
        seed = None if ctx.seed is None else ctx.seed + index + 1
        params = SamplingParams(n=votes, temperature=0.7, max_new_tokens=LABEL_TOKENS, seed=seed)
        samples = ctx.model.generate(chain_of_thought(variant), params, cancel=ctx.cancel)
        tokens += sum(completion.completion_tokens for completion in samples)
        answers = [(check(variant, sample.text).answer, sample.text) for sample in samples]
        label = _majority([answer for answer, _ in answers], votes)
        if label is None:
            dropped.append(f"variant {index + 1}: no majority among {votes} answers ({_tally(answers)})")
            continue
        trace = next(text for answer, text in answers if answer == label)
        agreeing = sum(answer == label for answer, _ in answers)
        variations.append(Variation(text, trace.strip(), label, "self-generated", f"{agreeing} of {votes} votes"))
    return VariationSet(tuple(variations), tuple(dropped), tokens)


def _distinct_problems(texts: list[str], question: str, dropped: list[str]) -> list[str]:
    """Keep each written problem once, cut to its first paragraph, and never the question itself."""
    seen = {normalise_question(question)}
    problems = []
    for text in texts:
        problem = text.strip().split("\n\n")[0].strip()
        for prefix in ("New problem:", "Problem:"):
            problem = problem.removeprefix(prefix).strip()
        key = normalise_question(problem)
        if len(problem) < 10 or len(problem) > MAX_VARIANT_CHARS:
            dropped.append(f"written problem of {len(problem)} characters: too short or too long")
        elif key in seen:
            dropped.append("written problem repeats the question or another variant")
        else:
            seen.add(key)
            problems.append(problem)
    return problems


def _majority(answers: list[str | None], votes: int) -> str | None:
    """Return the answer given by more than half of the votes, or None."""
    counts = Counter(answer for answer in answers if answer is not None)
    if not counts:
        return None
    answer, count = counts.most_common(1)[0]
    return answer if count * 2 > votes else None


def _tally(answers: list[tuple[str | None, str]]) -> str:
    counts = Counter("unparsed" if answer is None else answer for answer, _ in answers)
    return ", ".join(f"{answer} x{count}" for answer, count in counts.most_common())
