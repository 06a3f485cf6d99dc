"""The Memory tab: browse and search one namespace's memories, open, delete or export them, reset the namespace."""

from __future__ import annotations

import logging

import gradio as gr
import pandas as pd

from lrm_lab.errors import InputError, ModelLoadError
from lrm_lab.service.lab import Lab
from lrm_lab.service.memory import MAX_LISTED
from lrm_lab.service.memory_view import (
    MEMORY_COLUMNS,
    delete_entry,
    export_namespace_file,
    loaded_namespace,
    memory_detail,
    memory_table,
    namespace_choices,
    reset_memory,
)
from lrm_lab.ui import render

log = logging.getLogger(__name__)

INTRO = (
    "Memories are solutions that were verified correct, or marked right by a user in the History tab. "
    "The memory technique retrieves the most similar ones as worked examples. Each model has its own "
    "namespace, `model:<model id>`; a workshop can name a shared one."
)


def build_memory_tab(lab: Lab) -> tuple:
    """Lay out the Memory tab and wire its events.

    Returns (refresh function, its inputs, its outputs), so that the app can refresh the table
    and the namespace menu whenever the tab is selected.
    """
    gr.Markdown(INTRO)
    controls = _browse_controls(lab)
    entry = _entry_view()
    manage = _manage_controls()

    inputs = [controls[name] for name in ("namespace", "search", "mode", "limit")]
    outputs = [controls["table"], controls["status"], controls["menu"]]

    def refresh(namespace: str, search: str, mode: str, limit: float | None):
        try:
            table = memory_table(lab.store, namespace, search, mode, limit)
        except (InputError, ModelLoadError) as error:
            return gr.skip(), f"**Not shown:** {render.escape_markdown(str(error))}", gr.skip()
        return (pd.DataFrame(table.rows, columns=table.headers), render.escape_markdown(table.status),
                gr.update(choices=namespace_choices(lab.store)))

    controls["show"].click(refresh, inputs, outputs, api_visibility="private")
    controls["search"].submit(refresh, inputs, outputs, api_visibility="private")
    controls["menu"].input(lambda chosen: chosen or gr.skip(), controls["menu"], controls["namespace"],
                           api_visibility="private").then(refresh, inputs, outputs, api_visibility="private")
    controls["namespace"].submit(refresh, inputs, outputs, api_visibility="private")
    _wire_entry(lab, entry, controls).then(refresh, inputs, outputs, api_visibility="private")
    _wire_manage(lab, manage, controls["namespace"]).then(refresh, inputs, outputs, api_visibility="private")
    return refresh, inputs, outputs


def _browse_controls(lab: Lab) -> dict:
    """Lay out the namespace pickers, the search and the table; return the components by name."""

    def current_namespace() -> str:
        loaded = lab.slot.loaded
        return loaded_namespace(loaded.info.model_id if loaded else None)

    controls = {}
    with gr.Row():
        controls["menu"] = gr.Dropdown(namespace_choices(lab.store), value=None, label="Stored namespaces",
                                       info="Namespaces with memories, with their entry counts.",
                                       key="memory-menu", elem_id="memory-menu")
        controls["namespace"] = gr.Textbox(current_namespace, label="Namespace",
                                           info="Pick one from the menu or type a name; press Enter to show it.",
                                           max_length=200, key="memory-namespace", elem_id="memory-namespace")
    with gr.Row():
        controls["search"] = gr.Textbox(label="Search", placeholder="text, or a question for 'similar to'",
                                        max_length=4000, scale=3, key="memory-search", elem_id="memory-search")
        controls["mode"] = gr.Radio([("text contains", "contains"), ("similar to", "similar")], value="contains",
                                    label="Search mode", key="memory-mode", elem_id="memory-mode")
        controls["limit"] = gr.Number(50, precision=0, minimum=1, maximum=MAX_LISTED,
                                      label="Rows (similar to: at most 100)", key="memory-limit")
        controls["show"] = gr.Button("Show", size="sm", elem_id="memory-refresh")
    controls["status"] = gr.Markdown("", elem_id="memory-status")
    controls["table"] = gr.Dataframe(headers=MEMORY_COLUMNS, interactive=False, wrap=True, elem_id="memory-table")
    return controls


def _entry_view() -> dict:
    """Lay out one opened memory with its delete button; return the components by name."""
    entry = {}
    gr.Markdown("### Entry")
    with gr.Row():
        entry["memory_id"] = gr.Number(None, precision=0, label="Memory id (or click a row)", key="memory-id",
                                       elem_id="memory-id")
        entry["open"] = gr.Button("Open entry", size="sm", elem_id="memory-open")
        entry["delete"] = gr.Button("Delete this entry", variant="stop", size="sm", elem_id="memory-delete")
    entry["message"] = gr.Markdown("", elem_id="memory-message")
    entry["detail"] = gr.Markdown("", elem_id="memory-detail")
    entry["trace"] = gr.Textbox(label="Full reasoning trace", lines=10, max_lines=30, interactive=False,
                                elem_id="memory-trace")
    return entry


def _manage_controls() -> dict:
    """Lay out the export and the reset of the namespace; return the components by name."""
    manage = {}
    with gr.Accordion("Export or reset the namespace", open=False):
        with gr.Row():
            manage["export"] = gr.Button("Export as JSONL", elem_id="memory-export")
            manage["download"] = gr.File(label="Export", interactive=False, elem_id="memory-download")
        with gr.Row():
            manage["confirm"] = gr.Textbox(label="To reset, type the namespace name here",
                                           info="Reset deletes every memory of the namespace; it cannot be undone.",
                                           max_length=200, key="memory-confirm", elem_id="memory-confirm")
            manage["reset"] = gr.Button("Reset namespace", variant="stop", elem_id="memory-reset")
        manage["message"] = gr.Markdown("", elem_id="memory-manage-message")
    return manage


def _wire_entry(lab: Lab, entry: dict, controls: dict):
    """Wire opening and deleting one memory; return the delete event, after which the table refreshes."""
    opened = [entry["detail"], entry["trace"], entry["message"]]

    def open_entry(identifier: float | None):
        try:
            memory = memory_detail(lab.store, identifier)
        except InputError as error:
            return f"**Not found:** {render.escape_markdown(str(error))}", "", ""
        return render.memory_markdown(memory), memory["trace"], ""

    def select_row(data, event: gr.SelectData):
        row = event.index[0]
        identifier = data.iloc[row, 0] if hasattr(data, "iloc") else data[row][0]
        return (identifier, *open_entry(identifier))

    def delete(identifier: float | None, namespace: str):
        try:
            deleted = delete_entry(lab.store, identifier, namespace)
        except InputError as error:
            log.info("delete of memory %r in namespace %r rejected: %s", identifier, namespace, error)
            gr.Warning(str(error))
            return gr.skip(), gr.skip(), f"**Not deleted:** {render.escape_markdown(str(error))}"
        log.info("memory %s deleted from namespace %r in the Memory tab", deleted["id"], deleted["namespace"])
        return "", "", f"**Deleted memory #{deleted['id']}:** {render.escape_markdown(deleted['question'][:120])}"

    entry["open"].click(open_entry, entry["memory_id"], opened, api_visibility="private")
    controls["table"].select(select_row, controls["table"], [entry["memory_id"], *opened], api_visibility="private")
    return entry["delete"].click(delete, [entry["memory_id"], controls["namespace"]], opened,
                                 api_visibility="private")


def _wire_manage(lab: Lab, manage: dict, namespace: gr.Textbox):
    """Wire the export and the confirmed reset; return the reset event, after which the table refreshes."""

    # Gradio reserves the function name as an API name even for private events, and /export is taken.
    def export_file(name: str):
        try:
            return str(export_namespace_file(lab.store, name)), ""
        except InputError as error:
            return None, f"**Not exported:** {render.escape_markdown(str(error))}"

    def reset(name: str, confirm: str):
        try:
            deleted = reset_memory(lab.store, name, confirm)
        except InputError as error:
            log.info("reset of memory namespace %r rejected: %s", name, error)
            gr.Warning(str(error))
            return f"**Not reset:** {render.escape_markdown(str(error))}", gr.skip()
        return f"**Reset namespace {render.escape_markdown(name.strip())}:** {deleted} memories deleted.", ""

    manage["export"].click(export_file, namespace, [manage["download"], manage["message"]], api_visibility="private")
    return manage["reset"].click(reset, [namespace, manage["confirm"]], [manage["message"], manage["confirm"]],
                                 api_visibility="private")
