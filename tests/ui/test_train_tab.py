"""The Train tab's handlers on the embedded model: train with live curves, reject a bad name, stop, then sample.

The handlers are called as Gradio calls them, with their components' values and a request, and
each step is resumed from another thread, as Gradio's thread pool may do. The browser test
drives the same flow through the page.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import pytest

from lrm_lab.models.slot import ModelSlot
from lrm_lab.service.lab import Lab
from lrm_lab.store import Store
from lrm_lab.tasks.families import FAMILIES
from lrm_lab.ui.app import build_app
from lrm_lab.ui.compare_tab import MODEL_EVENTS, refresh_adapter_choices
from lrm_lab.ui.controls import NEWEST_ADAPTER
from lrm_lab.service.gflownet import run_in_thread
from lrm_lab.ui.train_tab import ADAPTER_COLUMNS

pytestmark = pytest.mark.model

SESSION = "train-tab-test"
# Shrunk so that training takes one or a few steps of 2 short chains on one problem.
FAST = {"train-steps": 1, "train-problems": 1, "train-batch_size": 2, "train-max_new_tokens": 16}


@pytest.fixture(scope="module")
def app(embedded, tmp_path_factory):
    folder = tmp_path_factory.mktemp("train-tab")
    slot = ModelSlot()
    slot.set(embedded)
    lab = Lab(store=Store(f"sqlite:///{folder / 'lab.db'}"), slot=slot, adapter_dir=folder / "adapters")
    demo = build_app(lab)
    yield lab, demo
    lab.store.close()


def handler(demo: gr.Blocks, name: str, reads: str | None = None):
    """Return the event function called ``name``; ``reads`` picks by the element id of one of its inputs."""
    matches = [block_fn for block_fn in demo.fns.values() if getattr(block_fn.fn, "__name__", "") == name
               and (reads is None or component(demo, reads) in block_fn.inputs)]
    assert len(matches) == 1, f"{len(matches)} handlers called {name}"
    return matches[0]


def component(demo: gr.Blocks, elem_id: str):
    return next(block for block in demo.blocks.values() if getattr(block, "elem_id", None) == elem_id)


def inputs(demo: gr.Blocks, name: str, values: dict, reads: str | None = None) -> dict:
    """Return the handler's input dict: every component's default, with ``values`` by element id."""
    data = {block: block.value for block in handler(demo, name, reads).inputs}
    for elem_id, value in values.items():
        data[component(demo, elem_id)] = value
    return data


def by_id(outputs: dict) -> dict:
    return {block.elem_id: value for block, value in outputs.items()}


def run_on_two_threads(generator) -> list[dict]:
    """Resume the generator from two threads in turn, as Gradio's pool may, and return what it yielded."""
    first, second = ThreadPoolExecutor(1), ThreadPoolExecutor(1)
    outputs = []
    try:
        while True:
            pool = first if len(outputs) % 2 == 0 else second
            output = pool.submit(next, generator, None).result(timeout=600)
            if output is None:
                return outputs
            outputs.append(by_id(output))
    finally:
        first.shutdown()
        second.shutdown()


@pytest.fixture(scope="module")
def trained(app):
    """One training run through the Train handler: 1 step, 1 problem, 2 chains of up to 16 tokens."""
    lab, demo = app
    data = inputs(demo, "train_handler", FAST | {"train-name": "tab-test-adapter"})
    outputs = run_on_two_threads(handler(demo, "train_handler").fn(data, gr.Request(session_hash=SESSION)))
    return outputs, lab.store.get_adapter_by_name("tab-test-adapter")


def test_train_yields_curves_and_finishes(trained, app):
    lab, _ = app
    outputs, record = trained
    statuses = [output["train-status"] for output in outputs if "train-status" in output]
    figures = [output["train-plot"] for output in outputs if "train-plot" in output]

    assert statuses[0] == "**Starting…**"
    assert any("Step 1 of 1" in status for status in statuses)
    assert "Trained tab\\-test\\-adapter" in statuses[-1]
    assert "tick GFlowNet in the Compare tab" in statuses[-1]
    assert list(figures[-1].data[0].y) == record.curves["loss"]
    assert len(figures[-1].data[2].y) == 1
    assert record.status == "finished"
    assert record.steps_done == 1
    assert (lab.adapter_dir / "tab-test-adapter").is_dir()


def test_table_lists_trained_adapter(trained):
    outputs, _ = trained
    rows = outputs[-1]["adapters-table"]

    assert [row[ADAPTER_COLUMNS.index("name")] for row in rows] == ["tab-test-adapter"]
    assert rows[0][ADAPTER_COLUMNS.index("status")] == "finished"
    assert rows[0][ADAPTER_COLUMNS.index("usable here")] is True


def test_select_row_draws_stored_curves(trained, app):
    _, demo = app
    _, record = trained
    event = gr.SelectData(None, {"index": [0, 0], "value": record.name})

    figure, detail = handler(demo, "select_adapter").fn([[record.name]], event)

    assert list(figure.data[1].y) == record.curves["log_z"]
    assert "**Adapter tab\\-test\\-adapter**" in detail
    assert "finished after 1 of 1 steps" in detail


def test_adapter_dropdown_lists_trained(trained, app):
    lab, _ = app

    choices = refresh_adapter_choices(lab).choices

    assert choices[0] == NEWEST_ADAPTER
    assert [value for _, value in choices[1:]] == ["tab-test-adapter"]
    assert choices[1][0] == f"tab-test-adapter ({next(iter(FAMILIES))}, 1 step)"


def test_bad_name_stores_nothing(app):
    lab, demo = app
    before = lab.store.list_adapters()
    data = inputs(demo, "train_handler", FAST | {"train-name": "../x"})

    with pytest.warns(UserWarning, match="invalid characters"):
        outputs = run_on_two_threads(handler(demo, "train_handler").fn(data, gr.Request(session_hash=SESSION)))

    assert outputs[-1]["train-status"].startswith("**Not trained:** The adapter name")
    assert lab.store.list_adapters() == before
    assert not (lab.adapter_dir / "x").exists()
    assert not (lab.adapter_dir.parent / "x").exists()


def test_bad_setting_is_not_trained(app):
    _, demo = app
    data = inputs(demo, "train_handler", FAST | {"train-batch_size": 1})

    with pytest.warns(UserWarning, match="batch_size must be between 2 and 64"):
        outputs = run_on_two_threads(handler(demo, "train_handler").fn(data, gr.Request(session_hash=SESSION)))

    assert "**Not trained:**" in outputs[-1]["train-status"]


def test_stop_keeps_steps_taken(app):
    lab, demo = app
    data = inputs(demo, "train_handler", FAST | {"train-steps": 3, "train-max_new_tokens": 8,
                                                 "train-name": "tab-test-stopped"})
    generator = handler(demo, "train_handler").fn(data, gr.Request(session_hash=SESSION))
    stop = handler(demo, "stop_training")

    statuses = []
    for output in generator:
        status = by_id(output).get("train-status")
        if status is None:  # the last update refreshes the table only
            continue
        statuses.append(status)
        if "Step 1 of 3" in status:
            assert lab.cancel(SESSION) is False  # the session's comparison flag is another one
            assert stop.fn(gr.Request(session_hash=SESSION)).startswith("**Stopping…**")

    # A step that trains on replayed chains samples nothing, so it ends before the flag is read again.
    record = lab.store.get_adapter_by_name("tab-test-stopped")
    assert record.status == "stopped"
    assert record.steps_done in (1, 2)
    assert f"Stopped after {record.steps_done} of 3 steps" in statuses[-1]


def test_model_events_share_concurrency(app):
    _, demo = app
    train = handler(demo, "train_handler")

    assert train.concurrency_id == MODEL_EVENTS
    assert handler(demo, "run_handler", reads="compare-techniques").concurrency_id == MODEL_EVENTS
    assert train.concurrency_limit == 1


def test_train_tab_between_benchmark_and_history(app):
    _, demo = app
    labels = [block.label for block in demo.blocks.values() if isinstance(block, gr.Tab)]

    assert labels.index("Benchmark") < labels.index("Train") < labels.index("History")


def test_compare_column_samples_with_adapter(trained, app):
    _, demo = app
    _, record = trained
    run = handler(demo, "run_handler", reads="compare-techniques")
    data = inputs(demo, "run_handler", {"compare-techniques": ["gflownet"], "option-gflownet-n": 2,
                                        "option-gflownet-max_new_tokens": 16}, reads="compare-techniques")

    outputs = [by_id(output) for output in run.fn(data, gr.Request(session_hash=SESSION))]
    view = next(output["gflownet-gflownet"] for output in reversed(outputs) if output.get("gflownet-gflownet"))

    assert "Done" in outputs[-1]["compare-status"]
    assert f"<b>Adapter:</b> <code>{record.name}</code>" in view
    assert "GFlowNet adapter vs base model, same N, temperature and seed" in view
    assert "Sampled 2 chains" in view
    assert "<summary>The 2 samples from the base model</summary>" in view


def test_run_in_thread_keeps_one_thread():
    seen = []

    def steps():
        for step in range(4):
            seen.append(threading.get_ident())
            yield step

    relayed = run_in_thread(steps(), threading.Event(), snapshot=lambda step: step)
    first, second = ThreadPoolExecutor(1), ThreadPoolExecutor(1)
    got = [(first if index % 2 == 0 else second).submit(next, relayed, None).result(timeout=10)
           for index in range(5)]

    assert got == [0, 1, 2, 3, None]
    assert len(set(seen)) == 1
    assert seen[0] != threading.get_ident()


def test_run_in_thread_reraises_and_cancels():
    def failing():
        yield 1
        raise ValueError("broken step")

    with pytest.raises(ValueError, match="broken step"):
        list(run_in_thread(failing(), threading.Event(), snapshot=lambda step: step))

    cancel = threading.Event()

    def endless():
        while not cancel.is_set():
            yield 0

    relayed = run_in_thread(endless(), cancel, snapshot=lambda step: step)
    next(relayed)
    relayed.close()  # the page closed: the worker is told to stop
    assert cancel.is_set()
