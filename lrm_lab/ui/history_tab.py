"""The History tab: stored attempts, newest first, and any one of them re-opened with its trace."""

from __future__ import annotations

import json

import gradio as gr

from lrm_lab.errors import InputError
from lrm_lab.service.history import HISTORY_COLUMNS, attempt_dict, history_rows
from lrm_lab.service.lab import Lab
from lrm_lab.tasks.families import FAMILIES
from lrm_lab.techniques import TECHNIQUES
from lrm_lab.ui import render


def build_history_tab(lab: Lab) -> tuple:
    """Lay out the History tab; return (refresh function, inputs, table) for refreshing it on select."""
    with gr.Row():
        technique = gr.Dropdown([("all", "")] + [(t.title, t.name) for t in TECHNIQUES.values()], value="",
                                label="Technique", key="history-technique")
        family = gr.Dropdown([("all", "")] + [(f.title, f.name) for f in FAMILIES.values()], value="",
                             label="Family", key="history-family")
        limit = gr.Number(50, precision=0, minimum=1, maximum=1000, label="Rows", key="history-limit")
        refresh = gr.Button("Refresh", size="sm")
    table = gr.Dataframe(headers=HISTORY_COLUMNS, interactive=False, wrap=True, elem_id="history-table")
    with gr.Row():
        attempt_id = gr.Number(None, precision=0, label="Attempt id (or click a row)", key="attempt-id")
        open_button = gr.Button("Open attempt", size="sm")
    header = gr.Markdown("", elem_id="attempt-header")
    trace = gr.Textbox(label="Full reasoning trace", lines=14, max_lines=40, interactive=False, elem_id="attempt-trace")
    details = gr.Code(label="Details, options and reproducibility record", language="json", lines=12)

    def refresh_table(technique_name: str, family_name: str, rows: float):
        try:
            return history_rows(lab.store, rows, technique_name, family_name)
        except InputError as error:
            raise gr.Error(str(error)) from None

    def open_attempt(identifier: float | None):
        try:
            record = attempt_dict(lab.store, identifier)
        except InputError as error:
            return f"**Not found:** {error}", "", ""
        return attempt_header(record), record["trace"], json.dumps(record_details(record), indent=2, default=str)

    def select_row(data, event: gr.SelectData):
        row = event.index[0]
        identifier = data.iloc[row, 0] if hasattr(data, "iloc") else data[row][0]
        return (identifier, *open_attempt(identifier))

    refresh.click(refresh_table, [technique, family, limit], table, api_visibility="private")
    open_button.click(open_attempt, attempt_id, [header, trace, details], api_visibility="private")
    table.select(select_row, table, [attempt_id, header, trace, details], api_visibility="private")
    return refresh_table, [technique, family, limit], table


def attempt_header(record: dict) -> str:
    question = record["question"]
    reference = question["reference"] if question["reference"] is not None else "none"
    return (
        f"**Attempt #{record['id']}** · {record['technique']} · {record['created_at'][:19]} · model `{record['model_id']}`\n\n"
        f"**Question:** {question['text']}\n\n"
        f"**Answer:** `{record['answer']}` {render.verdict_badge(record['verdict'])} · reference `{reference}` · "
        f"{record['completion_tokens']} tokens · {record['seconds']:.1f} s · seed {record['seed']}"
    )


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


def _without_texts(details: dict) -> dict:
    candidates = details.get("candidates")
    if not candidates:
        return details
    return details | {"candidates": [{k: v for k, v in c.items() if k != "text"} for c in candidates]}
