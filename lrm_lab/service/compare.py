"""Run several recipes on one question, streaming their progress and storing every attempt."""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lrm_lab.errors import InputError
from lrm_lab.models.base import ModelBackend
from lrm_lab.service.environment import package_versions
from lrm_lab.service.memory import MemoryBank, MemorySettings, remember_if_verified
from lrm_lab.service.gflownet import StoreAdapters
from lrm_lab.store import Store
from lrm_lab.tasks.extract import EXTRACTOR_VERSION
from lrm_lab.tasks.question import Question
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.techniques import (
    AdapterSource,
    MemorySource,
    Progress,
    RunContext,
    TechniqueResult,
    get_technique,
)
from lrm_lab.techniques.recipe import Recipe, attempt_options, make_recipe, named_techniques, run_recipe

log = logging.getLogger(__name__)

MAX_SEED = 2**32 - 1
UpdateT = TypeVar("UpdateT")


@dataclass
class ColumnState:
    """The state of one recipe's column at a moment of the comparison."""

    technique: str  # the column's technique names joined by "+", such as "memory+search"
    title: str
    recipe: str = ""  # the recipe label, such as "memory+search(n=8)"
    status: str = "waiting"  # waiting, running, done, failed or cancelled
    trace: str = ""
    candidates: tuple[str, ...] = ()
    fraction: float = 0.0
    result: TechniqueResult | None = None
    attempt_id: int | None = None
    memory_id: int | None = None  # the memory of this column's verified answer
    memory_created: bool = False  # False when the namespace already held that memory


@dataclass
class CompareUpdate:
    """One step of a running comparison, yielded to the UI or the CLI."""

    question: Question
    columns: dict[str, ColumnState]
    fraction: float
    message: str
    run_id: int | None = None
    done: bool = False


@dataclass(frozen=True)
class CompareRequest:
    """A question and the columns to run on it.

    Each entry of ``techniques`` is one column: a technique name, or several joined by "+" such
    as "memory+search". ``options`` holds raw option values per technique name and applies to
    every column that uses the technique.
    """

    question: Question
    techniques: tuple[str, ...]
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    seed: int | None = 0
    rerun_of: int | None = None  # the stored attempt this comparison repeats, recorded in the run's settings
    memory: MemorySettings = field(default_factory=MemorySettings)


def column_title(recipe: Recipe) -> str:
    """Return a column's title, such as "Memory + Search", from the titles of the techniques named."""
    return " + ".join(get_technique(name).title for name in named_techniques(recipe.techniques, recipe.options))


def plan_comparison(request: CompareRequest) -> list[Recipe]:
    """Validate the request and build each column's recipe, before anything is stored."""
    if not request.techniques:
        raise InputError("Tick at least one technique to compare.")
    if len(set(request.techniques)) != len(request.techniques):
        raise InputError("Each technique can appear once in a comparison.")
    if request.seed is not None and not (isinstance(request.seed, int) and 0 <= request.seed <= MAX_SEED):
        raise InputError(f"seed must be a whole number from 0 to {MAX_SEED}, got {request.seed!r}.")
    plan = [make_recipe(column, request.options) for column in request.techniques]
    # A memory column decodes with baseline, so baseline's options apply to it too.
    unknown = set(request.options) - {name for recipe in plan for name in recipe.techniques}
    if unknown:
        raise InputError(f"Options were given for {', '.join(sorted(unknown))}, which is not ticked.")
    for recipe in plan:
        if recipe.uses_reference() and request.question.reference is None:
            raise InputError(
                "The oracle verifier chooses with the reference answer, and this question has none: "
                "give a reference answer or pick another search strategy."
            )
    return plan


def run_comparison(
    request: CompareRequest, model: ModelBackend, store: Store, cancel: threading.Event | None = None
) -> Iterator[CompareUpdate]:
    """Run each column's recipe in turn on the question; yield an update at every progress step.

    Every finished attempt is stored as soon as it has its verdict. A column that reads memory
    writes its answer to memory when it is verified correct, unless the request's memory writes
    are off. The writes happen after every column has run, so that no column reads the answer
    that another column gave to the same question. Setting `cancel` stops the running generation
    within one decoding step; columns not yet started are not run.
    """
    plan = plan_comparison(request)
    cancel = cancel or threading.Event()
    columns = {column: ColumnState(recipe.name, column_title(recipe), recipe.label) for column, recipe in zip(request.techniques, plan)}
    bank = MemoryBank(store, request.memory.resolve(model.info.model_id)) if any(r.reads_memory for r in plan) else None
    for recipe in plan:
        if recipe.decoding == "gflownet":  # a missing adapter is an input error, found before anything is stored
            StoreAdapters(store).find("gflownet", recipe.options["gflownet"].adapter or None,
                                      request.question.family, model.info)

    run_id = _start_run(store, request, plan, model, bank)
    question_id = store.add_question(request.question)
    status = "finished"

    def update(message: str, done: bool = False) -> CompareUpdate:
        fraction = sum(min(column.fraction, 1.0) for column in columns.values()) / len(columns)
        return CompareUpdate(request.question, columns, fraction, message, run_id, done)

    def store_attempt(name: str, recipe: Recipe) -> None:
        column = columns[name]
        column.attempt_id = store.add_attempt(
            run_id=run_id,
            question_id=question_id,
            technique=recipe.name,
            options=attempt_options(recipe),
            seed=request.seed,
            model_id=model.info.model_id,
            recipe=recipe.label,
            **attempt_fields(column.result),
        )

    def remember_answers() -> None:
        """The learning stage: each memory column's verified answer is remembered."""
        if bank is None or not request.memory.writes:
            return
        for name, recipe in zip(request.techniques, plan):
            column = columns[name]
            if recipe.reads_memory and column.attempt_id is not None:
                remembered = remember_if_verified(bank, column.attempt_id)
                if remembered is not None:
                    column.memory_id, column.memory_created = remembered

    current = None
    try:
        for name, recipe in zip(request.techniques, plan):
            column = columns[name]
            if cancel.is_set():
                column.status = "cancelled"
                continue
            current = (name, recipe)
            column.status = "running"
            yield update(f"Running {column.title}")
            yield from run_in_worker(recipe, request.question, request.seed, model, cancel, column, update, bank,
                                     StoreAdapters(store))
            store_attempt(name, recipe)
            current = None
            yield update(f"{column.title}: {column.result.verdict}")
    except GeneratorExit:
        # The consumer went away (a closed tab, a dropped client): keep what the worker finished.
        cancel.set()
        status = "cancelled"
        if current is not None and columns[current[0]].result is not None:
            store_attempt(*current)
        raise
    except Exception:
        status = "failed"
        raise
    finally:
        remember_answers()
        if status == "finished" and cancel.is_set():
            status = "cancelled"
        store.finish_run(run_id, status)

    yield update("Stopped" if status == "cancelled" else "Done", done=True)


def _start_run(store: Store, request: CompareRequest, plan: list[Recipe], model: ModelBackend,
               bank: MemoryBank | None) -> int:
    """Store the run with everything needed to reproduce it: model, revision, options, seed, versions."""
    settings = {
        "techniques": list(request.techniques),
        "options": {name: dataclasses.asdict(options) for recipe in plan for name, options in recipe.options.items()},
        "rerun_of": request.rerun_of,
    } | memory_run_settings(bank, request.memory)
    return create_run(store, "compare", model, settings, request.seed)


def memory_run_settings(bank: MemoryBank | None, memory: MemorySettings) -> dict[str, Any]:
    """Return what a run records about memory: whether it wrote, the namespace and its size at the start."""
    if bank is None:
        return {"memory_writes": False, "memory_namespace": None}
    return {"memory_writes": memory.writes, "memory_namespace": bank.namespace,
            "memory_entries_at_start": bank.store.count_memories(bank.namespace)}


def create_run(store: Store, kind: str, model: ModelBackend, settings: dict[str, Any], seed: int | None) -> int:
    """Insert a run on ``model`` with its settings, the chat template hash and the package versions."""
    return store.create_run(
        kind=kind,
        model_id=model.info.model_id,
        model_revision=model.info.revision,
        device=model.info.device,
        dtype=model.info.dtype,
        settings=settings | {"chat_template_hash": model.info.chat_template_hash},
        seed=seed,
        package_versions=package_versions(),
    )


def run_in_worker(
    recipe: Recipe,
    question: Question,
    seed: int | None,
    model: ModelBackend,
    cancel: threading.Event,
    column: ColumnState,
    update: Callable[[str], UpdateT],
    memory: MemorySource | None = None,
    adapters: AdapterSource | None = None,
) -> Iterator[UpdateT]:
    """Run one recipe in a worker thread and relay its progress reports as ``update(message)`` values.

    When the worker ends, ``column.result`` contains its result; an exception becomes a result
    with verdict "error".
    """
    reports: queue.Queue[Progress] = queue.Queue()
    outcome: dict[str, Any] = {}
    context = RunContext(model=model, seed=seed, cancel=cancel, report=reports.put, memory=memory,
                         adapters=adapters)

    def work() -> None:
        start = time.perf_counter()
        try:
            outcome["result"] = run_recipe(recipe, question, context)
        except InputError as error:  # a setting the column cannot run with: shown and stored, no traceback
            log.warning("recipe %s rejected %r: %s", recipe.label, question.text[:80], error)
            outcome["result"] = error_result(recipe.name, error, time.perf_counter() - start)
        except Exception as error:  # shown in the column and stored with verdict "error"
            log.exception("recipe %s failed on %r", recipe.label, question.text[:80])
            outcome["result"] = error_result(recipe.name, error, time.perf_counter() - start)

    worker = threading.Thread(target=work, name=f"lrm-lab-{recipe.name}", daemon=True)
    worker.start()
    try:
        while worker.is_alive() or not reports.empty():
            try:
                progress = reports.get(timeout=0.1)
            except queue.Empty:
                continue
            while not reports.empty():  # skip to the newest report
                progress = reports.get_nowait()
            column.trace, column.candidates, column.fraction = progress.trace, progress.candidates, progress.fraction
            yield update(progress.message or f"Running {column.title}")
    finally:
        if worker.is_alive():
            cancel.set()
        worker.join()
        if "result" in outcome:
            column.result = outcome["result"]
            column.trace = column.result.trace
            column.fraction = 1.0
            verdict = column.result.verdict
            column.status = {Verdict.ERROR: "failed", Verdict.CANCELLED: "cancelled"}.get(verdict, "done")


def error_result(technique: str, error: Exception, seconds: float) -> TechniqueResult:
    return TechniqueResult(
        technique=technique,
        trace="",
        answer=None,
        verdict=Verdict.ERROR,
        score=None,
        completion_tokens=0,
        seconds=seconds,
        extractor_version=EXTRACTOR_VERSION,
        error=f"{type(error).__name__}: {error}",
    )


def attempt_fields(result: TechniqueResult) -> dict[str, Any]:
    return {
        "trace": result.trace,
        "answer": result.answer,
        "verdict": str(result.verdict),
        "score": result.score,
        "extractor_version": result.extractor_version,
        "completion_tokens": result.completion_tokens,
        "seconds": round(result.seconds, 3),
        "details": result.details,
        "error": result.error,
    }


def question_json(question: Question) -> dict[str, Any]:
    return {
        "text": question.text,
        "reference": question.reference,
        "source": question.source,
        "family": question.family,
        "settings": question.settings,
        "seed": question.seed,
    }


def result_json(column: ColumnState) -> dict[str, Any]:
    """Convert one technique's result to the JSON shape shared by the CLI and the API."""
    result = column.result
    return {
        "technique": column.technique,
        "recipe": column.recipe,
        "answer": result.answer,
        "verdict": str(result.verdict),
        "score": result.score,
        "completion_tokens": result.completion_tokens,
        "seconds": round(result.seconds, 3),
        "attempt_id": column.attempt_id,
        # The memory this answer was written as, or the same memory stored earlier.
        "memory_written": column.memory_id if column.memory_created else None,
        "memory_already_stored": None if column.memory_created else column.memory_id,
        "error": result.error,
        "details": result.details,
    }


def comparison_json(final: CompareUpdate) -> dict[str, Any]:
    """Summarise a finished comparison as {"question", "run_id", "results"}."""
    return {
        "question": question_json(final.question),
        "run_id": final.run_id,
        "results": [result_json(column) for column in final.columns.values() if column.result is not None],
    }
