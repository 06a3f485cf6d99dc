"""Run recipes over a set of questions, storing each attempt as it finishes, and resume stopped runs.

A benchmark is a list of items, one per (round, question, recipe, repeat). Rounds run the same
questions again, so a recipe with memory can show a retry curve: what it wrote in one round is
there to read in the next. Each finished item is
committed with its item key, so a stopped run, or one whose process died, resumes by running
only the items that have no stored attempt. The run's settings hold everything needed for
that: the question ids in order, the recipes with their options, the repeats and the seed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lrm_lab.errors import InputError
from lrm_lab.models.base import ModelBackend
from lrm_lab.service.compare import (
    MAX_SEED,
    ColumnState,
    attempt_fields,
    column_title,
    create_run,
    memory_run_settings,
    run_in_worker,
)
from lrm_lab.service.memory import (
    MemoryBank,
    MemorySettings,
    check_namespace,
    remember_if_verified,
)
from lrm_lab.service.questions import question_from_record
from lrm_lab.service.gflownet import StoreAdapters
from lrm_lab.store import ItemAlreadyStoredError, Store
from lrm_lab.tasks import mathcheck
from lrm_lab.tasks.families import make_question
from lrm_lab.tasks.question import Question
from lrm_lab.tasks.question_file import QuestionFile
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.techniques.recipe import (
    Recipe,
    attempt_options,
    recipe_from_json,
    recipe_json,
)

log = logging.getLogger(__name__)

MAX_QUESTIONS = 2000
MAX_REPEATS = 20
MAX_RECIPES = 12
MAX_ITEMS = 20_000
MAX_ROUNDS = 10


@dataclass(frozen=True)
class FamilySet:
    """Questions ``first_seed`` .. ``first_seed + count - 1`` of a reasoning-gym family."""

    family: str
    settings: dict[str, Any] = field(default_factory=dict)
    first_seed: int = 0
    count: int = 20


@dataclass(frozen=True)
class BenchmarkRequest:
    questions: FamilySet | QuestionFile
    recipes: tuple[Recipe, ...]
    repeats: int = 1
    seed: int = 0  # sampling seed of the first attempt; see Item.seed
    rounds: int = 1  # times the whole set runs, in order; memory written in a round is read in the next
    memory: MemorySettings = field(default_factory=MemorySettings)


@dataclass(frozen=True)
class Item:
    """One unit of work: a recipe's attempt at a question, for one repeat of one round."""

    question: int  # index into the plan's questions
    recipe: int  # index into the plan's recipes
    repeat: int
    round: int = 0

    def seed(self, first: int, repeats: int) -> int:
        """Return the sampling seed: first + k for repeat k in round 1, and new seeds in each later round.

        A retry samples afresh, so a sampled recipe without memory (the control) varies between
        rounds as much as sampling does, and a memory recipe's gain must exceed that.
        """
        return first + self.round * repeats + self.repeat

    @property
    def key(self) -> str:
        """The stored item key, "q<question>/r<recipe>/k<repeat>", after "t<round>/" from the second round on."""
        key = f"q{self.question}/r{self.recipe}/k{self.repeat}"
        return f"t{self.round}/{key}" if self.round else key


def parse_item(key: str) -> Item:
    """Return the item of a stored key such as "q3/r1/k0" or "t2/q3/r1/k0"."""
    parts = dict((part[0], int(part[1:])) for part in key.split("/"))
    return Item(parts["q"], parts["r"], parts["k"], parts.get("t", 0))


@dataclass(frozen=True)
class BenchmarkPlan:
    """A validated benchmark: its questions with their labels, its recipes, repeats and seed."""

    questions: tuple[Question, ...]
    labels: tuple[str, ...]  # one per question: "seed 3" or the file's id
    recipes: tuple[Recipe, ...]
    repeats: int
    seed: int
    source: dict[str, Any]  # where the questions came from, stored in the run's settings
    rounds: int = 1

    @property
    def total(self) -> int:
        return self.rounds * len(self.questions) * sum(self.repeats_of(recipe) for recipe in self.recipes)

    def repeats_of(self, recipe: Recipe) -> int:
        """Return the repeats of a recipe: 1 for one that does not sample, since every repeat would be the same."""
        return self.repeats if recipe.sampled else 1

    def items(self) -> Iterator[Item]:
        """Yield every item, round by round and question by question, so partial results cover whole questions."""
        for round_index in range(self.rounds):
            for question in range(len(self.questions)):
                for index, recipe in enumerate(self.recipes):
                    for repeat in range(self.repeats_of(recipe)):
                        yield Item(question, index, repeat, round_index)


@dataclass
class BenchmarkUpdate:
    """Progress of a running benchmark, yielded to the UI or the CLI."""

    run_id: int
    done: int  # items with a stored attempt, including those finished before a resume
    total: int
    message: str
    fraction: float  # 0..1, counting the running item's own progress
    eta_seconds: float | None = None  # None until an item has finished in this session
    last: dict[str, Any] | None = None  # the newest finished item: label, recipe, answer, verdict
    status: str = "running"  # running, finished, cancelled or failed


def plan_benchmark(request: BenchmarkRequest) -> BenchmarkPlan:
    """Validate a request and build its questions, before anything is stored or loaded."""
    if not request.recipes:
        raise InputError("Add at least one recipe, such as baseline or search:n=8.")
    if len(request.recipes) > MAX_RECIPES:
        raise InputError(f"A benchmark can compare at most {MAX_RECIPES} recipes, got {len(request.recipes)}.")
    labels = [recipe.label for recipe in request.recipes]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise InputError(f"Recipe {duplicates[0]} appears twice; give each recipe once or change its settings.")
    if not (isinstance(request.repeats, int) and 1 <= request.repeats <= MAX_REPEATS):
        raise InputError(f"Repeats must be a whole number from 1 to {MAX_REPEATS}, got {request.repeats!r}.")
    if not (isinstance(request.rounds, int) and 1 <= request.rounds <= MAX_ROUNDS):
        raise InputError(f"Rounds must be a whole number from 1 to {MAX_ROUNDS}, got {request.rounds!r}.")
    if request.memory.namespace:
        check_namespace(request.memory.namespace)
    largest = MAX_SEED - MAX_REPEATS * MAX_ROUNDS
    if not (isinstance(request.seed, int) and 0 <= request.seed <= largest):
        raise InputError(f"The seed must be a whole number from 0 to {largest}, got {request.seed!r}.")

    questions, question_labels, source = _build_questions(request.questions)
    plan = BenchmarkPlan(tuple(questions), tuple(question_labels), request.recipes, request.repeats, request.seed,
                         source, request.rounds)
    if plan.total > MAX_ITEMS:
        raise InputError(
            f"This benchmark has {plan.total} attempts ({len(questions)} questions x {len(request.recipes)} recipes "
            f"x {request.repeats} repeats x {request.rounds} rounds); the maximum is {MAX_ITEMS}. "
            "Use fewer questions, repeats or rounds."
        )
    return plan


def _build_questions(questions: FamilySet | QuestionFile) -> tuple[list[Question], list[str], dict[str, Any]]:
    if isinstance(questions, QuestionFile):
        if not questions.questions:
            raise InputError(f"{questions.name} has no valid question to run.")
        source = {"source": "file", "name": questions.name, "lines": [entry.line for entry in questions.questions],
                  "invalid_lines": len(questions.errors)}
        return [entry.question for entry in questions.questions], [entry.label for entry in questions.questions], source

    if not (isinstance(questions.count, int) and 1 <= questions.count <= MAX_QUESTIONS):
        raise InputError(f"The number of questions must be from 1 to {MAX_QUESTIONS}, got {questions.count!r}.")
    if not (isinstance(questions.first_seed, int) and 0 <= questions.first_seed <= MAX_SEED - questions.count):
        raise InputError(
            f"The first question seed must be a whole number from 0 to {MAX_SEED - questions.count}, "
            f"got {questions.first_seed!r}."
        )
    seeds = range(questions.first_seed, questions.first_seed + questions.count)
    built = [make_question(questions.family, questions.settings, seed) for seed in seeds]
    source = {"source": "family", "family": questions.family, "settings": built[0].settings,
              "first_seed": questions.first_seed, "count": questions.count}
    return built, [f"seed {seed}" for seed in seeds], source


def start_benchmark(plan: BenchmarkPlan, model: ModelBackend, store: Store,
                    memory: MemorySettings | None = None) -> int:
    """Store the run and its questions, and return the run id; run it with run_benchmark.

    The run records whether memory writes are on and the namespace, which a resume reuses.
    Only recipes that read memory write to it, so a recipe without memory stays a control.
    """
    memory = memory or MemorySettings()
    question_ids = [store.add_question(question) for question in plan.questions]
    reads_memory = any(recipe.reads_memory for recipe in plan.recipes)
    bank = MemoryBank(store, memory.resolve(model.info.model_id)) if reads_memory else None
    settings = {
        "questions": plan.source,
        "question_ids": question_ids,
        "question_labels": list(plan.labels),
        "recipes": [recipe_json(recipe) for recipe in plan.recipes],
        "repeats": plan.repeats,
        "rounds": plan.rounds,
    } | memory_run_settings(bank, memory)
    return create_run(store, "benchmark", model, settings, plan.seed)


def load_plan(store: Store, run_id: int) -> BenchmarkPlan:
    """Rebuild a stored benchmark's plan from its run settings and stored questions."""
    run = store.get_run(run_id)
    if run is None:
        raise InputError(f"No run with id {run_id}. The stored benchmark runs are listed by `runs --kind benchmark`.")
    if run.kind != "benchmark":
        raise InputError(f"Run {run_id} is a {run.kind} run; summaries and resume exist only for benchmark runs.")
    settings = run.settings
    questions = []
    for question_id in settings["question_ids"]:
        record = store.get_question(question_id)
        if record is None:
            raise InputError(f"Run {run_id} refers to question {question_id}, which is missing from the database.")
        questions.append(question_from_record(record))
    recipes = tuple(recipe_from_json(data) for data in settings["recipes"])
    return BenchmarkPlan(tuple(questions), tuple(settings["question_labels"]), recipes, settings["repeats"],
                         run.seed or 0, settings["questions"], settings.get("rounds", 1))


def run_benchmark(
    run_id: int, model: ModelBackend, store: Store, cancel: threading.Event | None = None
) -> Iterator[BenchmarkUpdate]:
    """Run every item of the run that has no stored attempt yet, yielding progress as it goes.

    Works for a new run and for a resumed one alike. Setting ``cancel`` stops the running item
    within one decoding step. Its partial attempt is stored as cancelled without an item key,
    so a later resume runs that item again.

    With memory writes on, a round's verified answers of memory recipes are written when the next
    round starts (and the last round's when the run finishes). So a round reads only what earlier
    rounds wrote, and no recipe reads another recipe's answer to the same question.
    """
    cancel = cancel or threading.Event()
    run = store.get_run(run_id)
    plan = load_plan(store, run_id)
    if run.model_id != model.info.model_id:
        raise InputError(f"Run {run_id} used the model {run.model_id}, but {model.info.model_id} is loaded. Load {run.model_id} to resume it.")
    question_ids = run.settings["question_ids"]
    namespace = run.settings.get("memory_namespace")
    bank = MemoryBank(store, namespace) if namespace else None
    writes = bool(run.settings.get("memory_writes")) and bank is not None
    stored = {attempt.item for attempt in store.run_attempts(run_id) if attempt.item is not None}
    todo = [item for item in plan.items() if item.key not in stored]
    if not todo and run.status == "finished":
        yield BenchmarkUpdate(run_id, plan.total, plan.total, "Done: every attempt is stored", 1.0, status="finished")
        return
    if run.status != "running":
        store.reopen_run(run_id)
    log.info("benchmark run %s: %d of %d items to run", run_id, len(todo), plan.total)

    if any(question.source == "typed" for question in plan.questions):
        mathcheck.warm_up()  # start the checker now rather than inside the first attempt's check
    done = plan.total - len(todo)
    status = "finished"
    started = time.perf_counter()
    finished_here = 0
    remembered_rounds: set[int] = set()
    last: dict[str, Any] | None = None
    column: ColumnState | None = None

    def update(message: str) -> BenchmarkUpdate:
        running = min(column.fraction, 1.0) if column is not None and column.result is None else 0.0
        eta = None
        if finished_here:
            eta = (time.perf_counter() - started) / finished_here * (plan.total - done)
        return BenchmarkUpdate(run_id, done, plan.total, message, (done + running) / max(plan.total, 1), eta, last)

    try:
        yield update(f"{done} of {plan.total} attempts already stored" if done else "Starting")
        for item in todo:
            if cancel.is_set():
                break
            if writes:
                _remember_rounds(store, run_id, plan, bank, range(item.round), remembered_rounds)
            recipe, question = plan.recipes[item.recipe], plan.questions[item.question]
            column = ColumnState(recipe.name, column_title(recipe), recipe.label)
            seed = item.seed(plan.seed, plan.repeats)
            message = _item_message(plan, item)
            yield from run_in_worker(recipe, question, seed, model, cancel, column, lambda _, m=message: update(m), bank,
                                     StoreAdapters(store))

            result = column.result
            key = None if result.verdict == Verdict.CANCELLED else item.key
            try:
                attempt_id = store.add_attempt(
                    run_id=run_id, question_id=question_ids[item.question], technique=recipe.name,
                    options=attempt_options(recipe), seed=seed, model_id=model.info.model_id,
                    recipe=recipe.label, item=key, **attempt_fields(result),
                )
            except ItemAlreadyStoredError:
                log.warning("run %s item %s was stored by another process; keeping that attempt", run_id, item.key)
                done += 1
                continue
            if key is None:
                break
            done += 1
            finished_here += 1
            last = {"attempt_id": attempt_id, "question": plan.labels[item.question], "recipe": recipe.label,
                    "round": item.round + 1, "answer": result.answer, "verdict": str(result.verdict)}
            yield update(f"{message}: {result.verdict}")
    except (GeneratorExit, KeyboardInterrupt):
        # The consumer went away (a closed tab, Ctrl-C in the CLI): the stored items stay.
        cancel.set()
        status = "cancelled"
        raise
    except BaseException:
        status = "failed"
        raise
    finally:
        if status == "finished" and (cancel.is_set() or done < plan.total):
            status = "cancelled"
        if status == "finished" and writes:
            _remember_rounds(store, run_id, plan, bank, range(plan.rounds), remembered_rounds)
        store.finish_run(run_id, status)
        log.info("benchmark run %s %s with %d of %d items stored", run_id, status, done, plan.total)

    final = update("Done" if status == "finished" else f"Stopped: {done} of {plan.total} attempts stored; resume to finish")
    final.status = status
    final.fraction = done / max(plan.total, 1)
    yield final


def _remember_rounds(store: Store, run_id: int, plan: BenchmarkPlan, bank: MemoryBank, rounds: range,
                     remembered: set[int]) -> None:
    """The learning stage: write the verified answers of memory recipes in ``rounds`` to memory.

    Reads the stored attempts, so the rounds finished before a resume are written too; the
    memory store keeps one entry per question and answer, so writing a round twice adds nothing.
    """
    pending = [index for index in rounds if index not in remembered]
    if not pending:
        return
    reads_memory = {recipe.label for recipe in plan.recipes if recipe.reads_memory}
    for attempt in store.run_attempts(run_id):
        if attempt.item is not None and attempt.recipe in reads_memory and parse_item(attempt.item).round in pending:
            remember_if_verified(bank, attempt.id)
    remembered.update(pending)
    log.info("benchmark run %s: verified answers of rounds %s written to memory %r", run_id,
             [index + 1 for index in pending], bank.namespace)


def _item_message(plan: BenchmarkPlan, item: Item) -> str:
    message = f"{plan.labels[item.question]}: {plan.recipes[item.recipe].label}"
    if plan.repeats > 1:
        message += f", repeat {item.repeat + 1}"
    if plan.rounds > 1:
        message = f"round {item.round + 1} of {plan.rounds}, {message}"
    return message
