"""The Train tab: train a GFlowNet sampler for a family with live curves, stop it, and browse the stored adapters."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from lrm_lab.errors import InputError, ModelLoadError
from lrm_lab.service.gflownet import (
    CPU_BUDGET_NOTE,
    TrainProgress,
    adapter_rows,
    train_gflownet,
    training_thread,
)
from lrm_lab.service.lab import Lab
from lrm_lab.service.plots import gflownet_curves_figure
from lrm_lab.tasks.families import FAMILIES
from lrm_lab.techniques.gflownet import GFlowNetTrainOptions
from lrm_lab.techniques.options import option_fields, parse_options
from lrm_lab.ui import render
from lrm_lab.ui.compare_tab import MODEL_EVENTS
from lrm_lab.ui.controls import option_control

log = logging.getLogger(__name__)

MAIN_SETTINGS = ("steps", "problems", "batch_size", "max_new_tokens", "objective")
LORA_SETTINGS = ("rank", "alpha", "target_modules")
# The keys of adapter_rows, in the table's column order.
ADAPTER_COLUMNS = ["name", "family", "base model", "status", "steps", "objective", "final mean reward", "seconds",
                   "created", "usable here"]
INTRODUCTION = (
    "### Train a GFlowNet sampler\n"
    "Fits a LoRA adapter that samples reasoning chains in proportion to their reward (the verifier's score "
    "against the reference, plus the base model's likelihood), on problems generated from the family with seeds "
    "that Compare and Benchmark questions never use. Then tick **GFlowNet** in the Compare tab to sample with it."
)


@dataclass
class TrainTab:
    """The Train tab's parts that the app wires further: the Train event, the adapters table and its refresh."""

    train_event: gr.events.Dependency
    table: gr.Dataframe
    refresh: Callable[[], list[list]]


def build_train_tab(lab: Lab) -> TrainTab:
    """Lay out the Train tab inside the current Blocks, wire its events, and return what the app wires further."""
    with gr.Row():
        with gr.Column(scale=1):
            gr.Markdown(INTRODUCTION)
            family = gr.Dropdown([(f.title, f.name) for f in FAMILIES.values()], value=next(iter(FAMILIES)),
                                 label="Family", key="train-family", elem_id="train-family")
            name = gr.Textbox(label="Adapter name", max_length=120, key="train-name", elem_id="train-name",
                              placeholder="empty: gflownet-<family>-<date>-<time>",
                              info='ASCII letters, digits, "-", "_" and "."; it becomes the folder name.')
            controls = _settings_controls()
        with gr.Column(scale=1):
            gr.Markdown(f"_{CPU_BUDGET_NOTE}_", elem_id="train-cpu-note")
            with gr.Row():
                train = gr.Button("Train", variant="primary", elem_id="train-button")
                stop = gr.Button("Stop", variant="stop", elem_id="train-stop")
            status = gr.Markdown("", elem_id="train-status")
            plot = gr.Plot(gflownet_curves_figure({}), show_label=False, elem_id="train-plot")

    gr.Markdown("### Trained adapters\nClick a row to draw its stored curves above.")
    with gr.Row():
        refresh = gr.Button("Refresh", size="sm", elem_id="adapters-refresh")
    table = gr.Dataframe(headers=ADAPTER_COLUMNS, interactive=False, wrap=True, elem_id="adapters-table",
                         column_widths=["22%", "11%", "17%", "7%", "5%", "7%", "8%", "6%", "10%", "7%"])
    detail = gr.Markdown("", elem_id="adapter-detail")

    def refresh_table() -> list[list]:
        loaded = lab.slot.loaded
        rows = adapter_rows(lab.store, loaded.info if loaded else None)
        return [[row.get(column) for column in ADAPTER_COLUMNS] for row in rows]

    def train_handler(data: dict, request: gr.Request, progress=gr.Progress()):
        owner = f"train:{request.session_hash or 'anonymous'}"
        values = {field: data[control] for field, control in controls.items()}
        try:
            options = parse_options(GFlowNetTrainOptions, values, "GFlowNet training")
            waiting = "Loading the model (about 20 s on a CPU)…" if lab.slot.loaded is None else "Starting…"
            yield {status: f"**{waiting}**", plot: gflownet_curves_figure({}), detail: ""}
            model = lab.model
            cancel = lab.cancel_flag(owner)
            steps = train_gflownet(lab.store, model, data[family], options, name=(data[name] or "").strip(),
                                   cancel=cancel, folder_root=lab.adapter_dir)
            for update in training_thread(steps, cancel):
                progress(update.fraction, desc=update.message)
                yield {status: train_status(update), plot: gflownet_curves_figure(update.curves, update.adapter.name)}
            yield {table: refresh_table()}
        except (InputError, ModelLoadError) as error:
            gr.Warning(str(error))
            yield {status: f"**Not trained:** {render.escape_markdown(str(error))}", table: refresh_table()}
        except Exception as error:  # an unexpected failure: keep the page usable and show what broke
            log.exception("GFlowNet training failed for session %s", owner)
            yield {status: f"**Failed:** {type(error).__name__}: {render.escape_markdown(str(error))}. The server "
                           "log has the details.", table: refresh_table()}

    def stop_training(request: gr.Request):
        if lab.cancel(f"train:{request.session_hash or 'anonymous'}"):
            return "**Stopping…** training ends within or after the running step and keeps the steps it finished."
        gr.Info("No training of this page is running. A queued one starts when the model is free.")
        return gr.skip()

    def select_adapter(data, event: gr.SelectData):
        row = event.index[0]
        adapter_name = data.iloc[row, 0] if hasattr(data, "iloc") else data[row][0]
        record = lab.store.get_adapter_by_name(str(adapter_name))
        if record is None:
            return gr.skip(), f"**Not found:** no adapter is called {render.escape_markdown(str(adapter_name))}."
        return gflownet_curves_figure(record.curves or {}, record.name), render.adapter_markdown(record)

    train_event = train.click(train_handler, {family, name, *controls.values()}, [status, plot, table, detail],
                              concurrency_id=MODEL_EVENTS, concurrency_limit=1, api_visibility="private")
    stop.click(stop_training, None, status, queue=False, api_visibility="private")
    refresh.click(refresh_table, None, table, api_visibility="private")
    table.select(select_adapter, table, [plot, detail], api_visibility="private")
    return TrainTab(train_event, table, refresh_table)


def _settings_controls() -> dict[str, gr.components.Component]:
    """Build one control per training setting: the main ones shown, the rest in two closed accordions."""
    fields = {field.name: field for field in option_fields(GFlowNetTrainOptions)}
    groups = {
        None: [fields[name] for name in MAIN_SETTINGS],
        "Optimiser, reward and exploration": [field for name, field in fields.items()
                                              if name not in MAIN_SETTINGS + LORA_SETTINGS],
        "LoRA adapter": [fields[name] for name in LORA_SETTINGS],
    }
    controls = {}
    for title, group in groups.items():
        with gr.Accordion(title, open=False) if title else gr.Group():
            for field in group:
                control = option_control(field, key=f"train-{field.name}")
                control.elem_id = f"train-{field.name}"
                controls[field.name] = control
    return controls


def train_status(update: TrainProgress) -> str:
    """Return the status line of a training update. The final one also names the adapter and where to use it."""
    text = f"**{render.escape_markdown(update.message)}**"
    if update.done and update.adapter.status in ("finished", "stopped") and update.adapter.steps_done:
        text += (f" Adapter {render.escape_markdown(update.adapter.name)} is in the table below; tick GFlowNet in "
                 "the Compare tab to sample with it.")
    return text

