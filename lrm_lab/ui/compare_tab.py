"""The Compare tab: a question, ticked recipes, and one live column per recipe."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import gradio as gr

from lrm_lab.errors import InputError, ModelLoadError
from lrm_lab.service.compare import CompareRequest, CompareUpdate, column_title, run_comparison
from lrm_lab.service.lab import Lab
from lrm_lab.service.memory import MemorySettings
from lrm_lab.service.plots import ttt_loss_figure
from lrm_lab.service.questions import build_question
from lrm_lab.tasks.families import FAMILIES
from lrm_lab.techniques import TechniqueResult, get_technique
from lrm_lab.techniques.recipe import make_recipe
from lrm_lab.ui import render
from lrm_lab.ui.controls import ADAPTER_OPTION, adapter_choices, collect_options, technique_option_controls

log = logging.getLogger(__name__)

MODEL_EVENTS = "model"  # every event that generates with or swaps the model shares this concurrency id
# The columns a user can tick: each decoding technique alone, each with memory as its context stage,
# TTT with greedy decoding, with search, and with memory, and GFlowNet sampling.
COLUMNS = ("baseline", "memory", "search", "memory+search", "ttt", "ttt+search", "memory+ttt", "gflownet")
# TTT trains an adapter for every question, about 20 s on a 2-core CPU, and GFlowNet sampling needs an
# adapter trained in the Train tab, so their columns start unticked.
DEFAULT_COLUMNS = ["baseline", "memory", "search"]
TTT_NOTE = ("TTT columns train a LoRA adapter for each question: about 20 s per reasoning-gym question on a "
            "2-core CPU with the default options, and much longer for a typed question, because the model first "
            "writes variants and samples answers to label them.")
GFLOWNET_NOTE = ("GFlowNet sampling needs an adapter trained for the question's family on the loaded model: train "
                 "one in the Train tab, then pick it in the GFlowNet options, or leave the adapter empty for the "
                 "newest. It samples N chains with the adapter and N from the base model to compare.")


@dataclass
class ColumnView:
    """The components of one recipe's column.

    A TTT column also has its TTT view and its loss plot, and a GFlowNet column its view of the
    adapter beside the base model.
    """

    column: gr.Column
    trace: gr.Textbox
    result: gr.HTML
    details: gr.HTML
    ttt: gr.HTML | None = None
    loss_plot: gr.Plot | None = None
    gflownet: gr.HTML | None = None

    def outputs(self) -> list:
        parts = (self.trace, self.result, self.ttt, self.loss_plot, self.gflownet, self.details)
        return [part for part in parts if part is not None]


@dataclass
class CompareTab:
    """The Compare tab's parts that the app wires further: the Run event and GFlowNet's adapter dropdown."""

    run_event: gr.events.Dependency
    adapter: gr.Dropdown


def build_compare_tab(lab: Lab) -> CompareTab:
    """Lay out the Compare tab inside the current Blocks, wire its events, and return what the app wires further."""
    default_family = next(iter(FAMILIES))

    with gr.Row():
        with gr.Column(scale=1):
            gr.Markdown("### Question")
            source = gr.Radio([("reasoning-gym family", "family"), ("typed question", "typed")], value="family",
                              label="Source", key="source", elem_id="question-source")
            with gr.Group(visible=True) as family_group:
                family = gr.Dropdown([(f.title, f.name) for f in FAMILIES.values()], value=default_family,
                                     label="Family", key="family", elem_id="family")
                family_info = gr.Markdown(FAMILIES[default_family].description)
                settings = gr.Code(render_settings(default_family), language="json", label="Size settings (JSON)",
                                   lines=4, key="settings")
                question_seed = gr.Number(3, precision=0, minimum=0, label="Question seed", key="question-seed",
                                          elem_id="question-seed")
            with gr.Group(visible=False) as typed_group:
                text = gr.Textbox(label="Your question", info="Up to 4,000 characters.", lines=4, max_length=4000,
                                  key="typed-text", elem_id="typed-text",
                                  placeholder="A train leaves at 3 pm and travels 120 km at 60 km/h. When does it arrive?")
                reference = gr.Textbox(label="Reference answer (optional; without it verdicts are unverified)",
                                       key="typed-reference", elem_id="typed-reference")
            preview = gr.Button("Preview question", size="sm")
        with gr.Column(scale=1):
            gr.Markdown("### Techniques")
            techniques = gr.CheckboxGroup([(column_title(make_recipe(name)), name) for name in COLUMNS],
                                          value=DEFAULT_COLUMNS, label="Compare", key="techniques", elem_id="compare-techniques",
                                          info="One column per ticked recipe. Baseline is the reference point. "
                                          "TTT columns train an adapter per question: about 20 s each on a 2-core "
                                          "CPU, and much longer for a typed question. GFlowNet needs an adapter "
                                          "trained in the Train tab.")
            sample_seed = gr.Number(0, precision=0, minimum=0, label="Sampling seed",
                                    info="The same question, settings and seed give the same output.", key="sample-seed")
            option_controls = technique_option_controls()
            with gr.Accordion("Memory store", open=False):
                namespace = gr.Textbox(label="Namespace", key="compare-namespace", elem_id="compare-namespace",
                                       placeholder="model:<model id> (the loaded model's own)",
                                       info="Memory columns read and write here. Name a shared one for a workshop.")
                memory_writes = gr.Checkbox(True, label="Write verified answers to memory", key="compare-memory-writes",
                                            elem_id="compare-memory-writes",
                                            info="A memory column's answer that matches the reference is remembered.")
            with gr.Row():
                run = gr.Button("Run comparison", variant="primary", elem_id="run-button")
                stop = gr.Button("Stop", variant="stop", elem_id="stop-button")

    status = gr.Markdown("", elem_id="compare-status")
    gr.Markdown(render.VERDICT_LEGEND, elem_classes=["legend"])
    question_view = gr.Markdown("", elem_id="question-view")

    with gr.Row(equal_height=False):
        columns = {name: _column_view(name) for name in COLUMNS}

    # Question source and family switch what is shown and fill the family's default settings.
    source.change(lambda choice: (gr.update(visible=choice == "family"), gr.update(visible=choice == "typed")),
                  source, [family_group, typed_group], queue=False, api_visibility="private")
    family.change(lambda name: (render_settings(name), FAMILIES[name].description if name in FAMILIES else ""),
                  family, [settings, family_info], queue=False, api_visibility="private")
    techniques.change(lambda ticked: [gr.update(visible=name in ticked) for name in columns],
                      techniques, [view.column for view in columns.values()], queue=False, api_visibility="private")

    question_inputs = [source, family, settings, question_seed, text, reference]
    preview.click(preview_question, question_inputs, [question_view, status], queue=False, api_visibility="private")

    outputs = [status, question_view] + [part for view in columns.values() for part in view.outputs()]
    controls = [control for _, _, control in option_controls]

    def run_handler(data: dict, request: gr.Request, progress=gr.Progress()):
        question_values = [data[component] for component in question_inputs]
        ticked, seed = data[techniques], data[sample_seed]
        memory = MemorySettings((data[namespace] or "").strip() or None, bool(data[memory_writes]))
        option_values = [data[control] for control in controls]
        owner = request.session_hash or "anonymous"
        try:
            question = build_question(*question_values)
            used = {part for column in ticked for part in make_recipe(column).techniques}
            options = {name: opts for name, opts in collect_options(option_controls, option_values).items()
                       if name in used}
            ordered = tuple(name for name in COLUMNS if name in ticked)
            comparison = CompareRequest(question, ordered, options, _whole(seed, "sampling seed"), memory=memory)
            waiting = "Loading the model (about 20 s on a CPU)…" if lab.slot.loaded is None else "Starting…"
            yield {status: waiting, question_view: render.question_markdown(question)} | _cleared(columns)
            cancel = lab.cancel_flag(owner)
            drawn: set[str] = set()
            for update in run_comparison(comparison, lab.model, lab.store, cancel):
                progress(update.fraction, desc=update.message)
                yield {status: _status_text(update)} | _columns_from_update(update, columns, drawn)
        except (InputError, ModelLoadError) as error:
            gr.Warning(str(error))
            yield {status: f"**Not run:** {render.escape_markdown(str(error))}"}
        except Exception as error:  # an unexpected failure: keep the page usable and show what broke
            log.exception("comparison failed for session %s", owner)
            yield {status: f"**Failed:** {type(error).__name__}: {render.escape_markdown(str(error))}. The server log has the details."}

    run_event = run.click(run_handler, {*question_inputs, techniques, sample_seed, namespace, memory_writes, *controls},
              outputs,
              concurrency_id=MODEL_EVENTS, concurrency_limit=1, api_visibility="undocumented",
              api_name="run_comparison_stream")
    def stop_handler(request: gr.Request):
        return _stop(lab, request)

    stop.click(stop_handler, None, status, queue=False, api_visibility="private")
    adapter = next(control for technique, name, control in option_controls
                   if technique == "gflownet" and name == ADAPTER_OPTION)
    return CompareTab(run_event, adapter)


def refresh_adapter_choices(lab: Lab) -> gr.Dropdown:
    """Fill the adapter dropdown with the adapters usable on the loaded model; its value is left as it is."""
    loaded = lab.slot.loaded
    return gr.Dropdown(choices=adapter_choices(lab.store, loaded.info if loaded else None))


def _column_view(name: str) -> ColumnView:
    """Lay out the column of one recipe, hidden unless it is ticked by default."""
    parts = [get_technique(part) for part in name.split("+")]
    element = name.replace("+", "-")
    is_ttt = "ttt" in name.split("+")
    is_gflownet = "gflownet" in name.split("+")
    with gr.Column(visible=name in DEFAULT_COLUMNS, min_width=320, elem_classes=["technique-column"]) as column:
        gr.Markdown(f"### {column_title(make_recipe(name))}\n" + " ".join(part.summary for part in parts))
        if is_ttt:
            gr.Markdown(f"_{TTT_NOTE}_", elem_classes=["ttt-note"])
        if is_gflownet:
            gr.Markdown(f"_{GFLOWNET_NOTE}_", elem_classes=["gflownet-note"])
        with gr.Accordion("About this technique", open=False):
            gr.Markdown("\n\n".join(part.explanation for part in parts))
        sampled = "search" in name or is_gflownet
        trace_label = "Reasoning trace (the chosen sample)" if sampled else "Reasoning trace"
        if is_ttt:
            trace_label += ", after adapting"
        trace = gr.Textbox(label=trace_label, lines=12, max_lines=24, autoscroll=True, interactive=False,
                           elem_id=f"trace-{element}")
        result = gr.HTML(elem_id=f"result-{element}")
        ttt, loss_plot = None, None
        if is_ttt:
            ttt = gr.HTML(elem_id=f"ttt-{element}")
            loss_plot = gr.Plot(label="TTT training loss per step", show_label=False, visible=False,
                                elem_id=f"plot-{element}")
        gflownet = gr.HTML(elem_id=f"gflownet-{element}") if is_gflownet else None
        details = gr.HTML(elem_id=f"details-{element}")
    return ColumnView(column, trace, result, details, ttt, loss_plot, gflownet)


def render_settings(family: str) -> str:
    """Return the family's default size settings as indented JSON for the settings box."""
    return json.dumps(FAMILIES[family].defaults, indent=2) if family in FAMILIES else "{}"


def preview_question(*question_values) -> tuple[str, str]:
    try:
        return render.question_markdown(build_question(*question_values)), ""
    except InputError as error:
        return "", f"**Invalid question:** {error}"


def _whole(value, name: str) -> int:
    if value is None or float(value) != int(value):
        raise InputError(f"The {name} must be a whole number, got {value!r}.")
    return int(value)


def _stop(lab: Lab, request: gr.Request):
    if lab.cancel(request.session_hash or "anonymous"):
        return "**Stopping…** the running generation ends at its next token."
    gr.Info("No comparison of this page is running. A queued one starts when the model is free.")
    return gr.skip()


def _cleared(columns: dict[str, ColumnView]) -> dict:
    outputs = {}
    for view in columns.values():
        outputs.update({view.trace: "", view.result: "", view.details: ""})
        if view.ttt is not None:
            outputs.update({view.ttt: "", view.loss_plot: gr.update(value=None, visible=False)})
        if view.gflownet is not None:
            outputs[view.gflownet] = ""
    return outputs


def _status_text(update: CompareUpdate) -> str:
    text = f"**{update.message}** · run #{update.run_id}"
    if update.done:
        text += " · stored; see the History tab"
    return text


def _columns_from_update(update: CompareUpdate, columns: dict[str, ColumnView], drawn: set[str]) -> dict:
    """Render every column of the update.

    ``drawn`` names the finished columns whose TTT or GFlowNet view is drawn already: each is
    drawn once, so that later updates leave its plot and its opened sections alone.
    """
    outputs = {}
    for name, state in update.columns.items():
        view = columns[name]
        outputs.update({view.trace: state.trace, view.result: render.result_html(state),
                        view.details: render.details_html(state)})
        if state.result is None or name in drawn:
            continue
        drawn.add(name)
        if view.ttt is not None:
            outputs.update(_ttt_outputs(view, state.result))
        if view.gflownet is not None:
            outputs[view.gflownet] = render.gflownet_html(state.result.details)
    return outputs


def _ttt_outputs(view: ColumnView, result: TechniqueResult) -> dict:
    """Show a TTT column's variations, answers before and after adapting, and loss curve.

    A column that failed before TTT ran has an error result without TTT details, and shows none.
    """
    if "variation_list" not in result.details:
        return {view.ttt: "", view.loss_plot: gr.update(value=None, visible=False)}
    details = result.details
    return {
        view.ttt: render.ttt_html(details, result.answer, str(result.verdict), result.completion_tokens),
        view.loss_plot: gr.update(value=ttt_loss_figure(details), visible=True),
    }
