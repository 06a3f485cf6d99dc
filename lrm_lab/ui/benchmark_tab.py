"""The Benchmark tab: a question set, recipes and repeats; a resumable run; results, plots and export."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import gradio as gr

from lrm_lab.errors import InputError, ModelLoadError
from lrm_lab.service.benchmark import BenchmarkRequest, FamilySet, plan_benchmark, run_benchmark, start_benchmark
from lrm_lab.service.estimate import estimate_benchmark, format_duration
from lrm_lab.service.export import export_attempts, export_summaries
from lrm_lab.service.lab import Lab
from lrm_lab.service.memory import MemorySettings
from lrm_lab.service.plots import accuracy_figure, compute_figure, grid_figure, rounds_figure, scaling_figure
from lrm_lab.service.results import SUMMARY_TABLE_COLUMNS, benchmark_run_choices, run_grid, summarize_run, summary_table
from lrm_lab.tasks.families import FAMILIES, parse_settings
from lrm_lab.tasks.question_file import MAX_FILE_BYTES, QuestionFile, parse_question_file
from lrm_lab.techniques import TECHNIQUES
from lrm_lab.techniques.options import option_fields
from lrm_lab.techniques.recipe import parse_recipe
from lrm_lab.ui import render
from lrm_lab.ui.compare_tab import MODEL_EVENTS, _stop, _whole, render_settings

log = logging.getLogger(__name__)

DEFAULT_RECIPES = "baseline\nsearch:n=4\nsearch:n=8"
SHOWN_LINE_ERRORS = 10


def recipe_help() -> str:
    """List every technique's options, so a user can write recipe lines without the docs."""
    lines = ["One recipe per line: `TECHNIQUE` or `TECHNIQUE:OPTION=VALUE,OPTION=VALUE`, e.g. `search:n=8,temperature=0.5`. "
             "Join techniques with `+` to compose them: `memory+search:n=4` uses memory as context and search to "
             "answer; `memory` alone answers greedily."]
    for technique in TECHNIQUES.values():
        options = ", ".join(f"`{field.name}` (default {field.default})" for field in option_fields(technique.options_type))
        lines.append(f"- **{technique.name}**: {options}")
    return "\n".join(lines)


def build_benchmark_tab(lab: Lab):
    """Lay out the Benchmark tab inside the current Blocks and wire its events.

    Returns a callback that refreshes the list of stored runs, and that list's dropdown.
    """
    default_family = next(iter(FAMILIES))
    with gr.Row():
        with gr.Column(scale=1):
            gr.Markdown("### Questions")
            source = gr.Radio([("reasoning-gym family", "family"), ("JSONL file", "file")], value="family",
                              label="Question set", key="bench-source")
            with gr.Group(visible=True) as family_group:
                family = gr.Dropdown([(f.title, f.name) for f in FAMILIES.values()], value=default_family,
                                     label="Family", key="bench-family", elem_id="bench-family")
                settings = gr.Code(render_settings(default_family), language="json", label="Size settings (JSON)",
                                   lines=4, key="bench-settings")
                with gr.Row():
                    first_seed = gr.Number(0, precision=0, minimum=0, label="First question seed", key="bench-first-seed")
                    count = gr.Number(20, precision=0, minimum=1, label="Number of questions", key="bench-count",
                                      elem_id="bench-count")
            with gr.Group(visible=False) as file_group:
                upload = gr.File(label="Questions (JSONL)", file_types=[".jsonl", ".json", ".txt"], type="filepath",
                                 elem_id="bench-file")
                gr.Markdown('One object per line: `{"question": "...", "answer": "...", "id": "...", "family": "..."}`; '
                            "`id` and `family` are optional. Invalid lines are reported and skipped.")
                file_report = gr.Markdown("", elem_id="bench-file-report")
        with gr.Column(scale=1):
            gr.Markdown("### Recipes")
            recipes = gr.Textbox(DEFAULT_RECIPES, lines=4, label="Recipes", key="bench-recipes", elem_id="bench-recipes")
            with gr.Accordion("How to write a recipe", open=False):
                gr.Markdown(recipe_help())
            with gr.Row():
                repeats = gr.Number(1, precision=0, minimum=1, label="Repeats", info="Attempts per question and recipe.",
                                    key="bench-repeats")
                seed = gr.Number(0, precision=0, minimum=0, label="Sampling seed", info="Repeat k uses seed + k.",
                                 key="bench-seed")
            with gr.Accordion("Rounds and memory", open=False):
                rounds = gr.Number(1, precision=0, minimum=1, label="Rounds", key="bench-rounds", elem_id="bench-rounds",
                                   info="Run the whole set this many times. Memory recipes read what was written in "
                                        "earlier rounds (a round's answers are written when the next starts), so "
                                        "accuracy per round is a retry curve. Recipes without memory are the control.")
                namespace = gr.Textbox(label="Memory namespace", key="bench-namespace", elem_id="bench-namespace",
                                       placeholder="model:<model id> (the loaded model's own)",
                                       info="Use a new name to start from an empty memory.")
                memory_writes = gr.Checkbox(True, label="Write verified answers of memory recipes to memory",
                                            key="bench-memory-writes", elem_id="bench-memory-writes")
            estimate_button = gr.Button("Estimate cost", size="sm", elem_id="bench-estimate")
            estimate_view = gr.Markdown("", elem_id="bench-estimate-view")
            confirm = gr.Checkbox(False, label="Start even if the estimate is above the time threshold",
                                  key="bench-confirm", elem_id="bench-confirm")
            with gr.Row():
                run = gr.Button("Run benchmark", variant="primary", elem_id="bench-run")
                stop = gr.Button("Stop", variant="stop", elem_id="bench-stop")
            gr.Markdown("While a benchmark runs, other comparisons on this server wait for the model.")

    with gr.Row():
        runs = gr.Dropdown(benchmark_run_choices(lab.store), value=None, label="Stored benchmark runs", scale=4,
                           info="Pick a run to see its results, resume it or export it.", elem_id="bench-runs")
        refresh_runs = gr.Button("Refresh list", size="sm", scale=1)
        resume = gr.Button("Resume run", scale=1, elem_id="bench-resume")
    status = gr.Markdown("", elem_id="bench-status")
    table = gr.Dataframe(headers=SUMMARY_TABLE_COLUMNS, value=[], interactive=False, wrap=True, label="Results per recipe",
                         elem_id="bench-table")
    gr.Markdown("Accuracy counts correct answers among correct, wrong and unparsed ones; unparsed answers are also "
                "counted on their own. Errors are left out. Recipes marked as using the reference answer are an upper "
                "bound, not a method.")
    with gr.Row():
        accuracy_plot = gr.Plot(label="Accuracy per recipe", show_label=False, elem_id="bench-accuracy-plot")
        compute_plot = gr.Plot(label="Accuracy against compute", show_label=False, elem_id="bench-compute-plot")
    with gr.Row():
        scaling_plot = gr.Plot(label="Accuracy against N", show_label=False, elem_id="bench-scaling-plot")
        rounds_plot = gr.Plot(label="Accuracy per round", show_label=False, elem_id="bench-rounds-plot")
    grid_plot = gr.Plot(label="Which recipe solved which question", show_label=False, elem_id="bench-grid-plot")
    with gr.Row():
        export_format = gr.Radio(["csv", "jsonl"], value="csv", label="Export format", key="bench-export-format")
        export_attempts_button = gr.Button("Export attempts", size="sm", elem_id="bench-export-attempts")
        export_summary_button = gr.Button("Export summary", size="sm", elem_id="bench-export-summary")
    download = gr.File(label="Export", interactive=False, elem_id="bench-download")

    results = [table, accuracy_plot, compute_plot, scaling_plot, rounds_plot, grid_plot]
    question_inputs = [source, family, settings, first_seed, count, upload]
    plan_inputs = [*question_inputs, recipes, repeats, seed, rounds, namespace, memory_writes]

    source.change(lambda choice: (gr.update(visible=choice == "family"), gr.update(visible=choice == "file")),
                  source, [family_group, file_group], queue=False, api_visibility="private")
    family.change(render_settings, family, settings, queue=False, api_visibility="private")
    upload.change(describe_file, upload, file_report, queue=False, api_visibility="private")

    def estimate_handler(data: dict):
        try:
            plan = plan_benchmark(build_request(*(data[component] for component in plan_inputs)))
            return estimate_benchmark(plan, lab.model, lab.store).text()
        except (InputError, ModelLoadError) as error:
            return f"**Cannot estimate:** {render.escape_markdown(str(error))}"

    def run_handler(data: dict, request: gr.Request, progress=gr.Progress()):
        owner = request.session_hash or "anonymous"
        try:
            request = build_request(*(data[component] for component in plan_inputs))
            plan = plan_benchmark(request)
            yield {status: "Loading the model and estimating…"}
            model = lab.model
            estimate = estimate_benchmark(plan, model, lab.store)
            if estimate.needs_confirmation and not data[confirm]:
                yield {status: "**Not started:** the estimate is above the time threshold. Tick the box to start "
                               "anyway, or use fewer questions, recipes or repeats.", estimate_view: estimate.text()}
                return
            run_id = start_benchmark(plan, model, lab.store, request.memory)
            yield {estimate_view: estimate.text(), runs: gr.update(choices=benchmark_run_choices(lab.store), value=run_id)}
            yield from _follow(run_id, model, owner, progress)
        except (InputError, ModelLoadError) as error:
            gr.Warning(str(error))
            yield {status: f"**Not run:** {render.escape_markdown(str(error))}"}

    def resume_handler(run_id, request: gr.Request, progress=gr.Progress()):
        owner = request.session_hash or "anonymous"
        try:
            if run_id is None:
                raise InputError("Pick a stored benchmark run to resume.")
            yield from _follow(int(run_id), lab.model, owner, progress)
        except (InputError, ModelLoadError) as error:
            gr.Warning(str(error))
            yield {status: f"**Not resumed:** {render.escape_markdown(str(error))}"}

    def _follow(run_id: int, model, owner: str, progress):
        """Run the benchmark's missing items, refreshing status and results after each one."""
        cancel = lab.cancel_flag(owner)
        try:
            for update in run_benchmark(run_id, model, lab.store, cancel):
                progress(update.fraction, desc=update.message)
                outputs = {status: status_text(update)}
                if update.last is not None or update.status != "running":
                    outputs |= dict(zip(results, results_view(lab, run_id)))
                yield outputs
        except (InputError, ModelLoadError):
            raise
        except Exception as error:  # keep the page usable; the stored attempts stay
            log.exception("benchmark run %s failed", run_id)
            yield {status: f"**Failed:** {type(error).__name__}: {render.escape_markdown(str(error))}. Stored attempts are kept; resume run #{run_id}."}
        yield {runs: gr.update(choices=benchmark_run_choices(lab.store), value=run_id)}

    def show_run(run_id):
        if run_id is None:
            return [gr.skip()] * (len(results) + 1)
        try:
            summary = summarize_run(lab.store, int(run_id))
        except InputError as error:
            return [f"**{error}**"] + [gr.skip()] * len(results)
        text = f"Run #{run_id}: **{summary['status']}**, {summary['done']} of {summary['total']} attempts stored."
        return [text, *results_view(lab, int(run_id))]

    def export_handler(run_id, fmt, summary_only: bool):
        if run_id is None:
            gr.Warning("Pick a stored benchmark run to export.")
            return None
        try:
            text = export_summaries(lab.store, [int(run_id)], fmt) if summary_only else export_attempts(lab.store, int(run_id), fmt)
        except InputError as error:
            gr.Warning(str(error))
            return None
        kind = "summary" if summary_only else "attempts"
        path = Path(tempfile.mkdtemp(prefix="lrm-lab-export-")) / f"run-{int(run_id)}-{kind}.{fmt}"
        path.write_text(text, encoding="utf-8")
        return str(path)

    def stop_handler(request: gr.Request):
        return _stop(lab, request)

    estimate_button.click(estimate_handler, set(plan_inputs), estimate_view, api_visibility="private")
    run.click(run_handler, {*plan_inputs, confirm}, [status, estimate_view, runs, *results],
              concurrency_id=MODEL_EVENTS, concurrency_limit=1, api_visibility="private")
    resume.click(resume_handler, runs, [status, runs, *results], concurrency_id=MODEL_EVENTS, concurrency_limit=1,
                 api_visibility="private")
    stop.click(stop_handler, None, status, queue=False, api_visibility="private")
    runs.select(show_run, runs, [status, *results], api_visibility="private")
    refresh_runs.click(lambda: gr.update(choices=benchmark_run_choices(lab.store)), None, runs, queue=False,
                       api_visibility="private")
    export_attempts_button.click(lambda run_id, fmt: export_handler(run_id, fmt, False), [runs, export_format],
                                 download, api_visibility="private")
    export_summary_button.click(lambda run_id, fmt: export_handler(run_id, fmt, True), [runs, export_format],
                                download, api_visibility="private")
    return (lambda: gr.update(choices=benchmark_run_choices(lab.store))), runs


def build_request(source, family, settings, first_seed, count, upload, recipes, repeats, seed, rounds=1,
                  namespace="", memory_writes=True) -> BenchmarkRequest:
    """Turn the tab's inputs into a benchmark request, raising InputError on any invalid value."""
    specs = [line for line in (recipes or "").splitlines() if line.strip()]
    recipe_list = tuple(parse_recipe(spec) for spec in specs)
    if source == "file":
        questions = read_upload(upload)
    else:
        questions = FamilySet(family, parse_settings(settings or ""), _whole(first_seed, "first question seed"),
                              _whole(count, "number of questions"))
    memory = MemorySettings((namespace or "").strip() or None, bool(memory_writes))
    return BenchmarkRequest(questions, recipe_list, _whole(repeats, "number of repeats"), _whole(seed, "sampling seed"),
                            _whole(rounds, "number of rounds"), memory)


def read_upload(path: str | None) -> QuestionFile:
    if not path:
        raise InputError("Upload a JSONL file of questions, or switch the question set to a reasoning-gym family.")
    file = Path(path)
    size = file.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(f"The file is {size:,} bytes; the maximum is {MAX_FILE_BYTES:,}.")
    return parse_question_file(file.read_bytes(), file.name)


def describe_file(path: str | None) -> str:
    """Report how many questions an uploaded file has and which lines are invalid."""
    if not path:
        return ""
    try:
        parsed = read_upload(path)
    except InputError as error:
        return f"**Invalid file:** {error}"
    text = f"**{len(parsed.questions)} questions** read from {parsed.name}."
    if parsed.errors:
        text += f" {len(parsed.errors)} invalid lines will be skipped:\n"
        text += "\n".join(f"- line {error.line}: {error.message}" for error in parsed.errors[:SHOWN_LINE_ERRORS])
        if len(parsed.errors) > SHOWN_LINE_ERRORS:
            text += f"\n- … and {len(parsed.errors) - SHOWN_LINE_ERRORS} more"
    return text


def results_view(lab: Lab, run_id: int) -> list:
    """Return the summary table and the four figures of a run, all computed from stored rows."""
    summary = summarize_run(lab.store, run_id)
    return [summary_table(summary), accuracy_figure(summary), compute_figure(summary), scaling_figure(summary),
            rounds_figure(summary), grid_figure(run_grid(lab.store, run_id))]


def status_text(update) -> str:
    text = f"**{update.message}** · run #{update.run_id} · {update.done} of {update.total} attempts stored"
    if update.eta_seconds is not None and update.status == "running":
        text += f" · about {format_duration(update.eta_seconds)} left"
    return text
