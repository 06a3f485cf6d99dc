"""The Compare tab without a model: the app builds, TTT columns have their own view, and draw it once."""

import gradio as gr

from lrm_lab.service.compare import ColumnState, CompareUpdate
from lrm_lab.service.lab import Lab
from lrm_lab.tasks.extract import EXTRACTOR_VERSION
from lrm_lab.tasks.question import Question
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.techniques.result import TechniqueResult
from lrm_lab.ui.app import build_app
from lrm_lab.ui.compare_tab import COLUMNS, DEFAULT_COLUMNS, TTT_NOTE, _column_view, _columns_from_update

QUESTION = Question(text="Calculate ( -9 / 9 ).", reference="-1", source="typed")
DETAILS = {
    "variations": 1, "variation_source": "siblings",
    "variation_list": [{"question": "Calculate 5 / 1.", "answer": "5", "source": "siblings", "note": "seed 27"}],
    "variations_dropped": [], "variation_tokens": 0, "train_loss": [1.2, 0.9], "adapted": True,
    "answer_before": "1", "verdict_before": "wrong", "trace_before": "Answer: 1", "tokens_before": 5,
    "train_seconds": 3.0,
}


def test_app_builds_with_ttt_columns(store):
    demo = build_app(Lab(store=store))

    element_ids = {block.elem_id for block in demo.blocks.values()}
    for column in ("ttt", "ttt-search", "memory-ttt"):
        assert {f"trace-{column}", f"result-{column}", f"ttt-{column}", f"plot-{column}"} <= element_ids
    assert "plot-search" not in element_ids
    assert {"option-ttt-steps", "option-ttt-target_modules"} <= element_ids


def test_ttt_columns_start_unticked():
    assert {"ttt", "ttt+search", "memory+ttt"} <= set(COLUMNS)
    assert not any("ttt" in column for column in DEFAULT_COLUMNS)
    assert "20 s" in TTT_NOTE


def update_with(result):
    state = ColumnState("ttt+baseline", "TTT", "ttt", status="done" if result else "running", result=result)
    return CompareUpdate(QUESTION, {"ttt": state}, 0.5, "Running TTT")


def test_ttt_view_drawn_once_when_done():
    with gr.Blocks(), gr.Row():
        columns = {"ttt": _column_view("ttt")}
    view, drawn = columns["ttt"], set()
    result = TechniqueResult(technique="ttt+baseline", trace="Answer: -1", answer="-1", verdict=Verdict.CORRECT,
                             score=1.0, completion_tokens=10, seconds=9.0, extractor_version=EXTRACTOR_VERSION,
                             details=DETAILS)

    running = _columns_from_update(update_with(None), columns, drawn)
    assert view.ttt not in running  # nothing to draw while the column runs

    done = _columns_from_update(update_with(result), columns, drawn)
    assert "Trained on 1 variation<" in done[view.ttt]
    assert done[view.loss_plot]["visible"] is True
    assert list(done[view.loss_plot]["value"].data[0].y) == [1.2, 0.9]

    later = _columns_from_update(update_with(result), columns, drawn)
    assert view.ttt not in later  # drawn once; later updates leave the plot alone
    assert view.result in later


def test_failed_ttt_column_hides_view():
    with gr.Blocks(), gr.Row():
        columns = {"ttt": _column_view("ttt")}
    failed = TechniqueResult(technique="ttt+baseline", trace="", answer=None, verdict=Verdict.ERROR, score=None,
                             completion_tokens=0, seconds=0.1, extractor_version=EXTRACTOR_VERSION,
                             error="InputError: The model has no linear layers named x_proj")

    outputs = _columns_from_update(update_with(failed), columns, set())

    assert outputs[columns["ttt"].ttt] == ""
    assert outputs[columns["ttt"].loss_plot]["visible"] is False
