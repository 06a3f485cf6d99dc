"""Named API endpoints for `gradio_client`: compare, benchmark, export, read history, load a model, manage memory."""

from __future__ import annotations

import json
from collections.abc import Iterator

import gradio as gr

from lrm_lab.errors import InputError, ModelLoadError
from lrm_lab.service.benchmark import (
    BenchmarkRequest,
    FamilySet,
    plan_benchmark,
    run_benchmark,
    start_benchmark,
)
from lrm_lab.service.compare import CompareRequest, comparison_json, run_comparison
from lrm_lab.service.estimate import estimate_benchmark
from lrm_lab.service.export import export_attempts, export_summaries
from lrm_lab.service.history import HISTORY_COLUMNS, attempt_dict, history_rows
from lrm_lab.service.lab import Lab
from lrm_lab.service.memory import MemorySettings
from lrm_lab.service.memory_view import (
    delete_entry,
    export_namespace,
    list_memories_json,
    mark_attempt_right,
    memory_detail,
    namespaces_json,
    reset_memory,
    similar_memories_json,
)
from lrm_lab.service.questions import build_question
from lrm_lab.service.results import summarize_run
from lrm_lab.tasks.families import parse_settings
from lrm_lab.techniques.recipe import parse_recipe
from lrm_lab.ui.compare_tab import MODEL_EVENTS


def register_api(lab: Lab) -> None:
    """Register the endpoints inside the current Blocks."""

    def compare(
        family: str = "basic_arithmetic",
        settings: str = "",
        question_seed: int = 0,
        question: str = "",
        reference: str = "",
        techniques: str = "baseline,search",
        options: str = "{}",
        seed: int = 0,
        namespace: str = "",
        memory_writes: bool = True,
    ) -> Iterator[dict]:
        """Run techniques on one question; the last output is {"question", "run_id", "results"}.

        Give `question` (and optionally `reference`) for a typed question, else `family` with
        JSON `settings` and `question_seed`. `techniques` is comma-separated, and "memory+search"
        or "ttt+search" is one column; `options` is JSON such as {"search": {"n": 8}, "ttt": {"steps": 2}}.
        A TTT column's details contain its training loss per step, its variations and its answer
        before adapting.
        Memory columns read and write `namespace` (empty: the model's own) unless `memory_writes`
        is false. Earlier outputs report
        progress as {"run_id", "progress", "message"}; a client that cancels or disconnects
        stops the run.
        """
        try:
            if question.strip():
                built = build_question("typed", text=question, reference=reference or None)
            else:
                built = build_question("family", family, settings, question_seed)
            names = tuple(name.strip() for name in techniques.split(",") if name.strip())
            memory = MemorySettings(namespace.strip() or None, bool(memory_writes))
            request = CompareRequest(built, names, _parse_options(options), seed, memory=memory)
            final = None
            for final in run_comparison(request, lab.model, lab.store):
                if not final.done:
                    yield {"run_id": final.run_id, "progress": round(final.fraction, 3), "message": final.message}
            yield comparison_json(final)
        except (InputError, ModelLoadError) as error:
            raise gr.Error(str(error)) from None

    def history(
        limit: int = 20,
        technique: str = "",
        family: str = "",
        model_id: str = "",
        recipe: str = "",
        run_id: str = "",
        since: str = "",
        until: str = "",
    ) -> list[dict]:
        """Return the newest stored attempts that match every filter given. Empty filters match all.

        `since` and `until` are UTC dates written YYYY-MM-DD, both days included.
        """
        try:
            rows = history_rows(lab.store, limit, technique, family, model_id, recipe, run_id, since, until)
            return [dict(zip(HISTORY_COLUMNS, row)) for row in rows]
        except InputError as error:
            raise gr.Error(str(error)) from None

    def attempt(attempt_id: int) -> dict:
        """Return one stored attempt with its full trace, question and run."""
        try:
            return attempt_dict(lab.store, attempt_id)
        except InputError as error:
            raise gr.Error(str(error)) from None

    def model_info() -> dict:
        """Return the loaded model, device and dtype, loading the embedded model if none is loaded."""
        info = lab.model.info
        return {"model_id": info.model_id, "display_name": info.display_name, "revision": info.revision,
                "device": info.device, "dtype": info.dtype, "parameters": info.parameters}

    def load_model(model_id: str = "embedded") -> dict:
        """Load a model (embedded, a hub id, a folder or a .gguf path); the old one stays on failure."""
        try:
            lab.load_model(model_id)
        except (InputError, ModelLoadError) as error:
            raise gr.Error(str(error)) from None
        return model_info()

    def benchmark(
        family: str = "basic_arithmetic",
        settings: str = "",
        first_seed: int = 0,
        count: int = 10,
        recipes: str = "baseline",
        repeats: int = 1,
        seed: int = 0,
        confirm: bool = False,
        resume_run_id: int = 0,
        rounds: int = 1,
        namespace: str = "",
        memory_writes: bool = True,
    ) -> Iterator[dict]:
        """Run recipes over family questions, or resume a stored run; the last output is the run's summary.

        `recipes` contains one recipe per line, such as "baseline", "search:n=8" and "memory+search".
        `rounds` runs the set that many times, so memory recipes give a retry curve ("by_round" in
        the summary); they read and write `namespace` (empty: the model's own) unless
        `memory_writes` is false. A run whose estimate
        is above the time threshold starts only with `confirm=True`. Earlier outputs report
        progress as {"run_id", "done", "total", "message"}; cancelling the job stops the run, and
        `resume_run_id` continues it later.
        """
        try:
            if resume_run_id:
                run_id = int(resume_run_id)
            else:
                request = BenchmarkRequest(
                    FamilySet(family, parse_settings(settings), first_seed, count),
                    tuple(parse_recipe(line) for line in recipes.splitlines() if line.strip()), repeats, seed,
                    rounds, MemorySettings(namespace.strip() or None, bool(memory_writes)),
                )
                plan = plan_benchmark(request)
                estimate = estimate_benchmark(plan, lab.model, lab.store)
                if estimate.needs_confirmation and not confirm:
                    raise InputError(f"{estimate.text()}\nCall again with confirm=True to start it.")
                run_id = start_benchmark(plan, lab.model, lab.store, request.memory)
            for update in run_benchmark(run_id, lab.model, lab.store):
                yield {"run_id": run_id, "done": update.done, "total": update.total, "message": update.message}
            yield summarize_run(lab.store, run_id)
        except (InputError, ModelLoadError) as error:
            raise gr.Error(str(error)) from None

    def benchmark_summary(run_id: int) -> dict:
        """Return a benchmark run's accuracy, Wilson interval, unparsed count, tokens and seconds per recipe."""
        try:
            return summarize_run(lab.store, _run_id(run_id))
        except InputError as error:
            raise gr.Error(str(error)) from None

    def export(run_id: int, format: str = "csv", summary: bool = False) -> str:
        """Return a run's attempts (or, with summary=True, its per-recipe summary) as CSV or JSONL text."""
        try:
            if summary:
                return export_summaries(lab.store, [_run_id(run_id)], format)
            return export_attempts(lab.store, _run_id(run_id), format)
        except InputError as error:
            raise gr.Error(str(error)) from None

    _register_memory_api(lab)
    gr.api(compare, api_name="compare", concurrency_id=MODEL_EVENTS, concurrency_limit=1)
    gr.api(benchmark, api_name="benchmark", concurrency_id=MODEL_EVENTS, concurrency_limit=1)
    gr.api(benchmark_summary, api_name="benchmark_summary")
    gr.api(export, api_name="export")
    gr.api(history, api_name="history")
    gr.api(attempt, api_name="attempt")
    gr.api(model_info, api_name="model_info", concurrency_id=MODEL_EVENTS, concurrency_limit=1)
    gr.api(load_model, api_name="load_model", concurrency_id=MODEL_EVENTS, concurrency_limit=1)


def _register_memory_api(lab: Lab) -> None:
    """Register the memory endpoints: list namespaces and memories, search, read, delete, export, reset, mark."""

    def memory_namespaces() -> list[dict]:
        """Return every memory namespace that has entries, with its entry and retrieval counts."""
        return namespaces_json(lab.store)

    def memory_list(namespace: str, text: str = "", limit: int = 100) -> list[dict]:
        """Return a namespace's newest memories; `text` keeps those whose question, answer or trace contains it."""
        return _user_errors(list_memories_json, lab.store, namespace, text, limit)

    def memory_similar(namespace: str, text: str, k: int = 5) -> list[dict]:
        """Return the k memories whose questions are most similar to `text`, each with its cosine similarity."""
        return _user_errors(similar_memories_json, lab.store, namespace, text, k)

    def memory_get(memory_id: int) -> dict:
        """Return one memory with its full trace, the attempt it came from and that attempt's run id."""
        return _user_errors(memory_detail, lab.store, memory_id)

    def memory_delete(memory_id: int) -> dict:
        """Delete one memory and return it. A server started with LRM_LAB_LOCK_MODEL=1 rejects this."""
        return _user_errors(delete_entry, lab.store, memory_id)

    def memory_export(namespace: str) -> str:
        """Return a namespace's memories as JSONL text, oldest first, one memory per line."""
        return _user_errors(export_namespace, lab.store, namespace)

    def memory_reset(namespace: str, confirm: str = "") -> dict:
        """Delete every memory of a namespace when `confirm` repeats its name; return how many were deleted.

        A server started with LRM_LAB_LOCK_MODEL=1 rejects this.
        """
        deleted = _user_errors(reset_memory, lab.store, namespace, confirm)
        return {"namespace": namespace.strip(), "deleted": deleted}

    def memory_mark(attempt_id: int, namespace: str = "") -> dict:
        """Write an unverified attempt's answer to memory as marked right by a user; return the memory.

        An empty `namespace` means the attempt model's own namespace, "model:<model id>".
        """
        return _user_errors(mark_attempt_right, lab.store, attempt_id, namespace)

    for endpoint in (memory_namespaces, memory_list, memory_similar, memory_get, memory_delete, memory_export,
                     memory_reset, memory_mark):
        gr.api(endpoint, api_name=endpoint.__name__)


def _user_errors(function, *args):
    """Call ``function``; turn an InputError or a failed embedding-model load into a message for the client."""
    try:
        return function(*args)
    except (InputError, ModelLoadError) as error:
        raise gr.Error(str(error)) from None


def _run_id(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError(f"A run id is a whole number, got {value!r}.") from None


def _parse_options(text: str) -> dict:
    try:
        options = json.loads(text or "{}")
    except json.JSONDecodeError as error:
        raise InputError(f"options must be a JSON object, e.g. {{\"search\": {{\"n\": 8}}}}: {error}") from None
    if not isinstance(options, dict) or not all(isinstance(value, dict) for value in options.values()):
        raise InputError('options must map technique names to objects, e.g. {"search": {"n": 8}}.')
    return options
