"""Assemble the Gradio app: header with the model picker, then the Compare, Benchmark, Train, History, Memory and About tabs."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import gradio as gr

from lrm_lab.errors import InputError, ModelLoadError
from lrm_lab.models.catalog import EMBEDDED, catalog_choices
from lrm_lab.service.lab import Lab
from lrm_lab.tasks import mathcheck
from lrm_lab.ui import render
from lrm_lab.ui.api import register_api
from lrm_lab.ui.benchmark_tab import build_benchmark_tab
from lrm_lab.ui.compare_tab import (
    MODEL_EVENTS,
    build_compare_tab,
    refresh_adapter_choices,
)
from lrm_lab.ui.history_tab import build_history_tab
from lrm_lab.ui.memory_tab import build_memory_tab
from lrm_lab.ui.train_tab import build_train_tab

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parents[2] / "assets"
CSS_PATH = ASSETS / "lab.css"
ABOUT = ASSETS / "about.md"


def build_app(lab: Lab) -> gr.Blocks:
    """Build the Blocks app over one Lab; launching is left to the caller."""
    with gr.Blocks(title="LRM Lab") as demo:
        gr.Markdown("# LRM Lab\nSee how inference-time compute changes what a language model answers.")
        with gr.Row():
            model_picker = gr.Dropdown(catalog_choices(), value=EMBEDDED, allow_custom_value=True, scale=3,
                                       label="Model", info="Pick one, or type a hub id, a model folder or a .gguf path.",
                                       key="model-picker")
            load = gr.Button("Load model", scale=1)
        model_view = gr.Markdown(render.model_markdown(lab.slot.loaded.info if lab.slot.loaded else None),
                                 elem_id="model-view")

        with gr.Tabs() as tabs:
            with gr.Tab("Compare") as compare:
                compare_tab = build_compare_tab(lab)
            with gr.Tab("Benchmark") as benchmark:
                refresh_benchmark_runs, benchmark_runs = build_benchmark_tab(lab)
            with gr.Tab("Train") as train:
                train_tab = build_train_tab(lab)
            with gr.Tab("History", id="history") as history:
                (refresh, refresh_inputs, table), (open_attempt, attempt_outputs) = build_history_tab(lab)
            with gr.Tab("Memory") as memory:
                refresh_memory, memory_inputs, memory_outputs = build_memory_tab(lab)
            with gr.Tab("About"):
                gr.Markdown(ABOUT.read_text(encoding="utf-8") if ABOUT.is_file() else "")
        register_api(lab)

        def load_model(model_id: str) -> str:
            try:
                backend = lab.load_model(model_id)
            except (InputError, ModelLoadError) as error:
                gr.Warning(str(error))
                current = lab.slot.loaded.info if lab.slot.loaded else None
                return render.model_markdown(current, error=str(error))
            return render.model_markdown(backend.info)

        def poll_model():
            """Show the model once the background load ends, then stop polling."""
            loaded = lab.slot.loaded
            info = loaded.info if loaded else None
            finished = loaded is not None or lab.preload_error is not None
            return render.model_markdown(info, error=lab.preload_error), gr.Timer(active=not finished)

        poll = gr.Timer(2.0)

        def open_link(request: gr.Request):
            """Open the History tab at the attempt that a link such as ?attempt=12 names (memory links use it)."""
            identifier = (request.query_params.get("attempt") or "").strip() if request else ""
            if not identifier:
                return [gr.skip()] * (len(attempt_outputs) + 1)
            return [gr.Tabs(selected="history"), *open_attempt(identifier)]

        def refresh_adapters():
            return refresh_adapter_choices(lab)

        load.click(load_model, model_picker, model_view, concurrency_id=MODEL_EVENTS, concurrency_limit=1,
                   api_visibility="private").then(refresh_adapters, None, compare_tab.adapter, queue=False,
                                                  api_visibility="private")
        history.select(refresh, refresh_inputs, table, api_visibility="private")
        memory.select(refresh_memory, memory_inputs, memory_outputs, api_visibility="private")
        benchmark.select(refresh_benchmark_runs, None, benchmark_runs, queue=False, api_visibility="private")
        train.select(train_tab.refresh, None, train_tab.table, queue=False, api_visibility="private")
        demo.load(open_link, None, [tabs, *attempt_outputs], queue=False, api_visibility="private")
        # The adapter dropdown lists the adapters usable on the loaded model, so it is refreshed whenever the
        # model or the adapters may have changed: page load, the end of the background load (the poll), a model
        # load, the end of a training run, and selecting the Compare tab.
        demo.load(refresh_adapters, None, compare_tab.adapter, queue=False, api_visibility="private")
        compare.select(refresh_adapters, None, compare_tab.adapter, queue=False, api_visibility="private")
        train_tab.train_event.then(refresh_adapters, None, compare_tab.adapter, queue=False, api_visibility="private")
        poll.tick(poll_model, None, [model_view, poll], queue=False, api_visibility="private").then(
            refresh_adapters, None, compare_tab.adapter, queue=False, api_visibility="private")
        # Another page may have loaded a different model: show the one this run used.
        compare_tab.run_event.then(poll_model, None, [model_view, poll], queue=False, api_visibility="private")
    return demo


def preload_model(lab: Lab) -> threading.Thread:
    """Load the default model in the background, so the page is usable while it loads."""

    def load() -> None:
        try:
            lab.slot.get()
        except ModelLoadError as error:
            lab.preload_error = str(error)
            log.exception("the default model failed to load; pick another one in the page")
        try:
            mathcheck.warm_up()  # typed answers are checked in a child process; start it before the first check
        except Exception:
            log.exception("the math-verify process failed to start; typed answers will retry it")

    thread = threading.Thread(target=load, name="lrm-lab-preload", daemon=True)
    thread.start()
    return thread


def launch(lab: Lab | None = None, **launch_kwargs) -> gr.Blocks:
    """Build and launch the app; keyword arguments go to `Blocks.launch`."""
    lab = lab or Lab()
    preload_model(lab)
    demo = build_app(lab)
    demo.queue(default_concurrency_limit=4)
    demo.launch(css_paths=[CSS_PATH], **launch_kwargs)
    return demo
