"""The History tab: stored runs and attempts, filtered; one attempt re-opened, re-run, re-scored or marked right."""

from __future__ import annotations

import html
import json
import logging

import gradio as gr

from lrm_lab.errors import InputError, ModelLoadError
from lrm_lab.service.history import (
    HISTORY_COLUMNS,
    RUN_COLUMNS,
    attempt_dict,
    filter_choices,
    history_rows,
    load_attempt,
    parse_id,
    run_rows,
)
from lrm_lab.service.lab import Lab
from lrm_lab.service.memory import default_namespace
from lrm_lab.service.memory_view import mark_attempt_right
from lrm_lab.service.plots import ttt_loss_figure
from lrm_lab.service.rerun import rerun_attempt, rerun_json
from lrm_lab.service.rescore import RESCORE_COLUMNS, rescore_attempt, rescore_run, rescore_rows, rescore_summary
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.techniques import TECHNIQUES
from lrm_lab.ui import render
from lrm_lab.ui.compare_tab import MODEL_EVENTS

log = logging.getLogger(__name__)


def build_history_tab(lab: Lab) -> tuple:
    """Lay out the History tab and wire its events.

    Returns (refresh function, its inputs, its outputs), so that the app can refresh the tables
    and the filter menus whenever the tab is selected, and (open function, its outputs), so that
    the app can open the attempt that a link such as ``?attempt=12`` names.
    """
    filters, refresh = _filter_controls(lab)
    status = gr.Markdown("", elem_id="history-status")
    with gr.Accordion("Runs", open=True):
        runs_table = gr.Dataframe(headers=RUN_COLUMNS, interactive=False, wrap=True, elem_id="runs-table")
        gr.Markdown("Click a run to list its attempts below. Runs are filtered by model and date only.")
    gr.Markdown("### Attempts")
    table = gr.Dataframe(headers=HISTORY_COLUMNS, interactive=False, wrap=True, elem_id="history-table")
    view = _attempt_view()

    inputs = [filters[name] for name in ("technique", "family", "model", "recipe", "run_id", "since", "until", "limit")]
    outputs = [table, runs_table, filters["model"], filters["recipe"], filters["family"], status]

    def refresh_tables(technique, family, model_id, recipe, run_id, since, until, rows):
        try:
            attempts = history_rows(lab.store, rows, technique, family, model_id, recipe, run_id, since, until)
            runs = run_rows(lab.store, rows, "", model_id, since, until)
        except InputError as error:
            gr.Warning(str(error))
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), f"**Invalid filter:** {error}"
        menus = filter_choices(lab.store)
        filter_values = {"technique": technique, "family": family, "model": model_id, "recipe": recipe, "run": run_id,
                         "from": since, "to": until}
        return (
            attempts,
            runs,
            gr.update(choices=_menu(menus["models"])),
            gr.update(choices=_menu(menus["recipes"])),
            gr.update(choices=_menu(menus["families"])),
            history_status(len(runs), len(attempts), filter_values),
        )

    def select_run(data, event: gr.SelectData):
        row = event.index[0]
        return str(data.iloc[row, 0] if hasattr(data, "iloc") else data[row][0])

    refresh.click(refresh_tables, inputs, outputs, api_visibility="private")
    runs_table.select(select_run, runs_table, filters["run_id"], api_visibility="private").then(
        refresh_tables, inputs, outputs, api_visibility="private"
    )
    rerun_event, open_attempt, opened = _wire_attempt_view(lab, view, table, filters["run_id"])
    rerun_event.then(refresh_tables, inputs, outputs, api_visibility="private")

    def open_linked(identifier: str) -> tuple:
        try:
            number = parse_id(identifier, "attempt id")
        except InputError:
            number = None  # open_attempt shows why the link's id is invalid
        return (number, *open_attempt(identifier))

    return (refresh_tables, inputs, outputs), (open_linked, [view["attempt_id"], *opened])


def _filter_controls(lab: Lab) -> tuple[dict, gr.Button]:
    """Lay out the filter controls; return them by name with the Refresh button."""
    menus = filter_choices(lab.store)
    filters = {}
    with gr.Row():
        filters["model"] = gr.Dropdown(_menu(menus["models"]), value="", label="Model",
                                       key="history-model", elem_id="history-model")
        filters["recipe"] = gr.Dropdown(_menu(menus["recipes"]), value="", label="Recipe",
                                        key="history-recipe", elem_id="history-recipe")
        filters["family"] = gr.Dropdown(_menu(menus["families"]), value="", label="Family",
                                        key="history-family", elem_id="history-family")
        filters["technique"] = gr.Dropdown([("all", "")] + [(t.title, t.name) for t in TECHNIQUES.values()],
                                           value="", label="Technique", key="history-technique",
                                           elem_id="history-technique")
    with gr.Row():
        filters["since"] = gr.Textbox(label="From (UTC date)", placeholder="YYYY-MM-DD", key="history-since",
                                      elem_id="history-since")
        filters["until"] = gr.Textbox(label="To, that day included (UTC date)", placeholder="YYYY-MM-DD",
                                      key="history-until", elem_id="history-until")
        filters["run_id"] = gr.Textbox(label="Run id", placeholder="all runs", key="history-run", elem_id="history-run")
        filters["limit"] = gr.Number(50, precision=0, minimum=1, maximum=1000, label="Rows", key="history-limit")
        refresh = gr.Button("Refresh", size="sm", elem_id="history-refresh")
    return filters, refresh


def _attempt_view() -> dict:
    """Lay out the opened attempt with its re-run and re-score actions; return the components by name."""
    view = {}
    with gr.Row():
        view["attempt_id"] = gr.Number(None, precision=0, label="Attempt id (or click a row)", key="attempt-id")
        view["open"] = gr.Button("Open attempt", size="sm")
    view["header"] = gr.Markdown("", elem_id="attempt-header")
    view["trace"] = gr.Textbox(label="Full reasoning trace", lines=14, max_lines=40, interactive=False,
                               elem_id="attempt-trace")
    with gr.Column(visible=False) as view["ttt_group"]:
        view["ttt"] = gr.HTML(elem_id="attempt-ttt")
        view["ttt_plot"] = gr.Plot(label="TTT training loss per step", show_label=False, elem_id="attempt-ttt-plot")
    view["gflownet"] = gr.HTML(visible=False, elem_id="attempt-gflownet")
    view["details"] = gr.Code(label="Details, options and reproducibility record", language="json", lines=12)
    with gr.Row():
        view["rerun"] = gr.Button("Re-run with the same seed and settings", variant="primary", elem_id="rerun-button")
        view["stop"] = gr.Button("Stop re-run", variant="stop", elem_id="rerun-stop")
        view["rescore"] = gr.Button("Re-score with the current extractor", elem_id="rescore-button")
        view["rescore_run"] = gr.Button("Re-score run (the run id above)", elem_id="rescore-run-button")
    with gr.Row(visible=False) as view["mark_row"]:
        view["mark_namespace"] = gr.Textbox(label="Memory namespace", info="Empty: the attempt model's own namespace.",
                                            max_length=200, scale=3, key="mark-namespace", elem_id="mark-namespace")
        view["mark"] = gr.Button("Mark answer as right (write to memory)", scale=1, elem_id="mark-button")
    view["mark_result"] = gr.Markdown("", elem_id="mark-result")
    view["rerun_result"] = gr.HTML(elem_id="rerun-result")
    view["rerun_trace"] = gr.Textbox(label="Re-run trace", lines=8, max_lines=24, autoscroll=True,
                                     interactive=False, elem_id="rerun-trace")
    view["rescore_summary"] = gr.Markdown("", elem_id="rescore-summary")
    view["rescore_table"] = gr.Dataframe(headers=RESCORE_COLUMNS, interactive=False, wrap=True,
                                         elem_id="rescore-table")
    return view


def _wire_attempt_view(lab: Lab, view: dict, table: gr.Dataframe, run_id: gr.Textbox):
    """Wire opening, re-running, re-scoring and marking right an attempt.

    Returns the re-run event, the function that opens an attempt, and that function's outputs.
    """
    opened = [view["header"], view["trace"], view["details"], view["mark_row"], view["mark_namespace"],
              view["mark_result"], view["ttt_group"], view["ttt"], view["ttt_plot"], view["gflownet"]]

    def open_attempt(identifier: float | None):
        try:
            record = attempt_dict(lab.store, identifier)
        except InputError as error:
            return (f"**Not found:** {error}", "", "", gr.update(visible=False), gr.skip(), "",
                    gr.update(visible=False), "", None, gr.update(value="", visible=False))
        # Only an unverified answer can be marked right, because the other verdicts come from a reference answer.
        markable = record["verdict"] == Verdict.UNVERIFIED and record["answer"] is not None
        return (attempt_header(record), record["trace"], json.dumps(record_details(record), indent=2, default=str),
                gr.update(visible=markable), default_namespace(record["model_id"]), "", *ttt_view(record),
                gflownet_view(record))

    def mark(identifier: float | None, namespace: str):
        try:
            memory = mark_attempt_right(lab.store, identifier, namespace)
        except InputError as error:
            log.info("mark-right of attempt %r rejected: %s", identifier, error)
            gr.Warning(str(error))
            return f"**Not written to memory:** {render.escape_markdown(str(error))}"
        return render.marked_markdown(memory)

    def select_row(data, event: gr.SelectData):
        row = event.index[0]
        identifier = data.iloc[row, 0] if hasattr(data, "iloc") else data[row][0]
        return (identifier, *open_attempt(identifier))

    def rerun_handler(identifier: float | None, request: gr.Request, progress=gr.Progress()):
        owner = request.session_hash or "anonymous"
        yield from _rerun_updates(lab, identifier, owner, progress)

    def stop_handler(request: gr.Request):
        if not lab.cancel(request.session_hash or "anonymous"):
            gr.Info("No re-run of this page is running. A queued one starts when the model is free.")

    def rescore_one(identifier: float | None):
        try:
            reports = [rescore_attempt(load_attempt(lab.store, identifier))]
        except InputError as error:
            gr.Warning(str(error))
            return f"**Not re-scored:** {error}", gr.skip()
        return rescore_markdown(rescore_summary(reports)), rescore_rows(reports)

    def rescore_all(identifier: str):
        try:
            reports = rescore_run(lab.store, identifier)
        except InputError as error:
            gr.Warning(f"{error} Type a run id above, or click a run in the runs table.")
            return f"**Not re-scored:** {error}", gr.skip()
        return rescore_markdown(rescore_summary(reports), identifier), rescore_rows(reports)

    rescored = [view["rescore_summary"], view["rescore_table"]]
    view["open"].click(open_attempt, view["attempt_id"], opened, api_visibility="private")
    table.select(select_row, table, [view["attempt_id"], *opened], api_visibility="private")
    view["mark"].click(mark, [view["attempt_id"], view["mark_namespace"]], view["mark_result"],
                       api_visibility="private")
    view["stop"].click(stop_handler, None, None, queue=False, api_visibility="private")
    view["rescore"].click(rescore_one, view["attempt_id"], rescored, api_visibility="private")
    view["rescore_run"].click(rescore_all, run_id, rescored, api_visibility="private")
    rerun_event = view["rerun"].click(rerun_handler, view["attempt_id"], [view["rerun_result"], view["rerun_trace"]],
                               concurrency_id=MODEL_EVENTS, concurrency_limit=1, api_visibility="private")
    return rerun_event, open_attempt, opened


def _rerun_updates(lab: Lab, identifier: float | None, owner: str, progress):
    """Re-run the attempt and yield (result HTML, live trace) pairs. Errors become a message, never a crash."""
    try:
        record = load_attempt(lab.store, identifier)
        waiting = "Loading the model (about 20 s on a CPU)…" if lab.slot.loaded is None else "Starting…"
        yield _status_html(waiting), ""
        final = None
        for final in rerun_attempt(lab, record, lab.cancel_flag(owner)):
            progress(final.fraction, desc=final.message)
            yield _status_html(f"{final.message} · run #{final.run_id}"), final.columns[record.technique].trace
        yield rerun_html(rerun_json(lab.store, record, final)), final.columns[record.technique].trace
    except (InputError, ModelLoadError) as error:
        gr.Warning(str(error))
        yield _status_html(f"Not re-run: {error}"), gr.skip()
    except Exception as error:  # an unexpected failure: keep the page usable and show what broke
        log.exception("re-run of attempt %s failed for session %s", identifier, owner)
        yield _status_html(f"Failed: {type(error).__name__}: {error}. The server log has the details."), gr.skip()


def attempt_header(record: dict) -> str:
    question = record["question"]
    reference = question["reference"] if question["reference"] is not None else "none"
    recipe = f" · recipe `{record['recipe']}`" if record.get("recipe") else ""
    return (
        f"**Attempt #{record['id']}** · {record['technique']}{recipe} · run #{record['run_id']} · "
        f"{record['created_at'][:19]} · model `{record['model_id']}`\n\n"
        f"**Question:** {render.escape_markdown(question['text'])}\n\n"
        f"**Answer:** {render.escape_markdown(str(record['answer']))} {render.verdict_badge(record['verdict'])} · "
        f"reference {render.escape_markdown(reference)} · "
        f"{record['completion_tokens']} tokens · {record['seconds']:.1f} s · seed {record['seed']}"
    )


def ttt_view(record: dict) -> tuple:
    """Return the TTT view's visibility, HTML and loss figure: shown for a TTT attempt, hidden for any other."""
    details = record["details"]
    if "ttt" not in record["technique"].split("+") or "variation_list" not in details:
        return gr.update(visible=False), "", None
    view = render.ttt_html(details, record["answer"], record["verdict"], record["completion_tokens"])
    return gr.update(visible=True), view, ttt_loss_figure(details)


def gflownet_view(record: dict):
    """Return the GFlowNet view's update: shown with the adapter beside the base model for a GFlowNet attempt."""
    details = record["details"]
    if "gflownet" not in record["technique"].split("+") or not details.get("adapter"):
        return gr.update(value="", visible=False)
    return gr.update(value=render.gflownet_html(details), visible=True)


def record_details(record: dict) -> dict:
    """Everything about the attempt except the texts already shown above."""
    return {
        "options": record["options"],
        "details": _without_texts(record["details"]),
        "extractor_version": record["extractor_version"],
        "score": record["score"],
        "error": record["error"],
        "question": {key: value for key, value in record["question"].items() if key != "text"},
        "run": record["run"],
    }


def history_status(run_count: int, attempt_count: int, filter_values: dict) -> str:
    """Say how many runs and attempts the tables show and which filters are set."""
    active = ", ".join(
        f"{name} {str(value).strip()}" for name, value in filter_values.items() if str(value or "").strip()
    )
    return f"Runs shown: {run_count} · attempts shown: {attempt_count} · filters: {active or 'none'}"


def rerun_html(summary: dict) -> str:
    """Render the old and the new result of a re-run in one table, then what differs between the two runs."""
    rows = []
    for label, attempt_id, result in (
        ("before", summary["attempt_id"], summary["old"]),
        ("re-run", summary["rerun_attempt_id"], summary["new"]),
    ):
        if result is None:
            rows.append(f"<tr><td>{label}</td><td colspan='4'>stopped before it finished</td></tr>")
            continue
        answer = html.escape(result["answer"]) if result["answer"] is not None else "<em>none extracted</em>"
        rows.append(
            f"<tr><td>{label} (attempt #{attempt_id})</td><td><code>{answer}</code></td>"
            f"<td>{render.verdict_badge(result['verdict'])}</td><td>{result['completion_tokens']}</td>"
            f"<td>{result['seconds']:.1f}</td></tr>"
        )
    same = (
        f"<p>Same answer: <b>{'yes' if summary['same_answer'] else 'no'}</b> · "
        f"same verdict: <b>{'yes' if summary['same_verdict'] else 'no'}</b> · stored as run #{summary['run_id']}</p>"
    )
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in summary["notes"])
    notes = f"<p>Not an exact repeat, because:</p><ul>{notes}</ul>" if notes else ""
    table = (
        "<table class='rerun'><thead><tr><th></th><th>answer</th><th>verdict</th><th>tokens</th><th>seconds</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return table + same + notes


def rescore_markdown(summary: dict, run_id: str | None = None) -> str:
    """Say how many attempts were re-scored and changed, and how the verdicts moved."""
    scope = f"run #{run_id.strip()}" if run_id else "the attempt"
    text = (
        f"**Re-scored {scope}** with extractor version {summary['extractor_version']} (nothing stored): "
        f"{summary['rescored']} of {summary['attempts']} attempts re-scored, {summary['changed']} changed, "
        f"{summary['not_rescorable']} not re-scorable."
    )
    if summary["verdict_changes"]:
        text += " Verdicts: " + ", ".join(f"`{change}` {count}" for change, count in summary["verdict_changes"].items())
    return text


def _status_html(message: str) -> str:
    return f"<p class='rerun-status'><b>{html.escape(message)}</b></p>"


def _menu(values: list[str]) -> list[tuple[str, str]]:
    return [("all", "")] + [(value, value) for value in values]


def _without_texts(details: dict) -> dict:
    """Leave out the texts shown elsewhere: every sample's text (search, GFlowNet, its base model) and TTT's trace."""
    details = {key: value for key, value in details.items() if key != "trace_before"}
    if details.get("candidates"):
        details["candidates"] = [{k: v for k, v in c.items() if k != "text"} for c in details["candidates"]]
    base = details.get("base")
    if isinstance(base, dict) and base.get("candidates"):
        details["base"] = base | {"candidates": [{k: v for k, v in c.items() if k != "text"}
                                                 for c in base["candidates"]]}
    return details
