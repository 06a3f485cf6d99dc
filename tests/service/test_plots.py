"""Figures: values drawn from the benchmark summary and grid dicts, TTT's details and GFlowNet curves, edge cases."""

from __future__ import annotations

import json
import math

import plotly.graph_objects as go
import pytest

from lrm_lab.service.plots import (
    MIN_GRID_HEIGHT_PX,
    ROW_HEIGHT_PX,
    TTT_PLOT_HEIGHT_PX,
    accuracy_figure,
    compute_figure,
    gflownet_curves_figure,
    grid_figure,
    scaling_figure,
    ttt_loss_figure,
)


def recipe(name, techniques, options, n, correct, ci_low, ci_high, mean_tokens, unparsed=0):
    return {
        "recipe": name,
        "techniques": techniques,
        "options": options,
        "n": n,
        "correct": correct,
        "accuracy": correct / n if n else None,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "unparsed": unparsed,
        "errors": 0,
        "mean_tokens": mean_tokens,
        "mean_seconds": None if mean_tokens is None else mean_tokens / 10,
    }


def search(n, correct, strategy="self_consistency", temperature=0.7, name=None):
    options = {"search": {"strategy": strategy, "n": n, "temperature": temperature, "max_new_tokens": 256}}
    accuracy = correct / 50
    name = name or f"{strategy}(n={n})"
    return recipe(name, ["search"], options, 50, correct, accuracy - 0.1, accuracy + 0.12, 40.0 * n)


BASELINE = recipe(
    "baseline", ["baseline"], {"baseline": {"max_new_tokens": 256}}, 50, 12, 0.143, 0.373, 40.2, unparsed=3
)
NOT_RUN = recipe("search(n=32)", ["search"], {"search": {"n": 32}}, 0, 0, None, None, None)


def summary(*recipes):
    return {"run_id": 7, "recipes": list(recipes)}


def texts(figure: go.Figure) -> list[str]:
    return [annotation.text for annotation in figure.layout.annotations]


def assert_serialises(figure: go.Figure):
    parsed = json.loads(figure.to_json())
    assert parsed["layout"]["title"]["text"]


# ---- accuracy_figure -------------------------------------------------------------------


def test_accuracy_bars_from_summary():
    recipes = [BASELINE, search(8, 20), search(4, 18)]
    figure = accuracy_figure(summary(*recipes))

    assert len(figure.data) == 1
    bars = figure.data[0]
    assert list(bars.x) == ["baseline", "self_consistency(n=8)", "self_consistency(n=4)"]
    assert list(bars.y) == pytest.approx([item["accuracy"] for item in recipes])
    assert list(bars.error_y.array) == pytest.approx([item["ci_high"] - item["accuracy"] for item in recipes])
    assert list(bars.error_y.arrayminus) == pytest.approx([item["accuracy"] - item["ci_low"] for item in recipes])
    assert bars.error_y.symmetric is False


def test_accuracy_axes_and_hover():
    figure = accuracy_figure(summary(BASELINE))

    assert "run 7" in figure.layout.title.text
    assert figure.layout.xaxis.title.text == "Recipe"
    assert figure.layout.yaxis.title.text == "Accuracy"
    assert tuple(figure.layout.yaxis.range) == (0, 1)
    assert figure.layout.yaxis.tickformat == ".0%"

    bars = figure.data[0]
    hover_row = list(bars.customdata[0])
    assert hover_row[:6] == ["baseline", 12, 50, 0.143, 0.373, 3]
    assert "customdata[1]}/%{customdata[2]}" in bars.hovertemplate
    assert "95% interval" in bars.hovertemplate
    assert "unparsed %{customdata[5]}" in bars.hovertemplate


def test_accuracy_skips_recipe_not_run():
    figure = accuracy_figure(summary(BASELINE, NOT_RUN))

    assert list(figure.data[0].x) == ["baseline"]
    assert any("search(n=32)" in text for text in texts(figure))
    assert_serialises(figure)


def test_accuracy_empty_summary():
    for empty in (summary(), summary(NOT_RUN), {"run_id": None, "recipes": []}):
        figure = accuracy_figure(empty)
        assert len(figure.data) == 0
        assert any("Nothing to plot yet" in text for text in texts(figure))
        assert_serialises(figure)


# ---- compute_figure --------------------------------------------------------------------


def test_compute_markers_from_summary():
    recipes = [BASELINE, search(4, 18), search(8, 20)]
    figure = compute_figure(summary(*recipes, NOT_RUN))

    assert len(figure.data) == 1
    markers = figure.data[0]
    assert list(markers.x) == pytest.approx([40.2, 160.0, 320.0])
    assert list(markers.y) == pytest.approx([item["accuracy"] for item in recipes])
    assert list(markers.text) == ["baseline", "self_consistency(n=4)", "self_consistency(n=8)"]
    assert "text" in markers.mode
    assert list(markers.error_y.array) == pytest.approx([item["ci_high"] - item["accuracy"] for item in recipes])
    assert list(markers.error_y.arrayminus) == pytest.approx([item["accuracy"] - item["ci_low"] for item in recipes])
    assert figure.layout.xaxis.title.text == "Mean completion tokens per question"
    assert figure.layout.yaxis.title.text == "Accuracy"
    assert_serialises(figure)


def test_compute_empty_summary():
    figure = compute_figure(summary(NOT_RUN))
    assert len(figure.data) == 0
    assert any("Nothing to plot yet" in text for text in texts(figure))
    assert_serialises(figure)


# ---- scaling_figure --------------------------------------------------------------------


def test_scaling_lines_sorted_by_n():
    recipes = [
        BASELINE,
        search(8, 22),
        search(2, 14),
        search(4, 18),
        search(8, 30, strategy="best_of_n_oracle"),
        search(2, 20, strategy="best_of_n_oracle"),
        search(4, 16, temperature=1.0, name="hot(n=4)"),
    ]
    figure = scaling_figure(summary(*recipes))

    assert len(figure.data) == 3
    vote, oracle, hot = figure.data
    assert list(vote.x) == [2, 4, 8]
    assert list(vote.y) == pytest.approx([14 / 50, 18 / 50, 22 / 50])
    assert list(vote.error_y.array) == pytest.approx([0.12, 0.12, 0.12])
    assert list(vote.error_y.arrayminus) == pytest.approx([0.1, 0.1, 0.1])
    assert list(oracle.x) == [2, 8]
    assert list(oracle.y) == pytest.approx([20 / 50, 30 / 50])
    assert list(hot.x) == [4]

    assert "temperature 0.7" in vote.name
    assert "temperature 1.0" in hot.name
    assert "uses the reference answer" in oracle.name
    assert "uses the reference answer" not in vote.name
    assert list(figure.layout.xaxis.tickvals) == [2, 4, 8]
    assert figure.layout.xaxis.title.text == "Samples per question (N)"
    assert figure.layout.yaxis.title.text == "Accuracy"
    assert_serialises(figure)


def test_scaling_baseline_line():
    figure = scaling_figure(summary(BASELINE, search(2, 14), search(4, 18)))

    lines = [shape for shape in figure.layout.shapes if shape.y0 == shape.y1]
    assert len(lines) == 1
    assert lines[0].y0 == pytest.approx(0.24)
    assert lines[0].line.dash == "dash"
    assert any("baseline: 24.0% (12/50)" in text for text in texts(figure))


def test_scaling_without_baseline_says_so():
    figure = scaling_figure(summary(search(2, 14), search(4, 18)))
    assert len(figure.layout.shapes) == 0
    assert any("No baseline recipe" in text for text in texts(figure))


def test_scaling_fills_missing_options_with_defaults():
    bare = recipe("search", ["search"], {"search": {"n": 8}}, 10, 5, 0.2, 0.8, 300.0)
    figure = scaling_figure(summary(bare))
    assert list(figure.data[0].x) == [8]
    assert "self-consistency" in figure.data[0].name


def test_scaling_no_search_recipes():
    for recipes in ([], [BASELINE]):
        figure = scaling_figure(summary(*recipes))
        assert len(figure.data) == 0
        assert any("Add search recipes with different n" in text for text in texts(figure))
        assert_serialises(figure)


def test_scaling_search_not_run_yet():
    figure = scaling_figure(summary(BASELINE, NOT_RUN))
    assert len(figure.data) == 0
    assert any("no search recipe has a counted attempt" in text for text in texts(figure))


def test_scaling_skips_search_not_run():
    figure = scaling_figure(summary(BASELINE, search(2, 14), NOT_RUN))
    assert list(figure.data[0].x) == [2]
    assert any("search(n=32)" in text for text in texts(figure))


# ---- grid_figure -----------------------------------------------------------------------


def cell(verdicts, attempt_ids=None):
    return {
        "correct": verdicts.count("correct"),
        "total": len(verdicts),
        "verdicts": verdicts,
        "attempt_ids": attempt_ids or list(range(31, 31 + len(verdicts))),
    }


def test_grid_values_from_cells():
    grid = {
        "questions": ["seed 0", "seed 1", "seed 2"],
        "recipes": ["baseline", "search(n=8)"],
        "cells": [
            [cell(["correct"]), cell(["correct", "wrong", "correct"])],
            [cell(["wrong"]), cell([])],
            [cell(["unparsed"]), cell(["error"], attempt_ids=[99])],
        ],
    }
    figure = grid_figure(grid)

    assert len(figure.data) == 1
    heatmap = figure.data[0]
    z = [list(row) for row in heatmap.z]
    assert z[0] == pytest.approx([1.0, 2 / 3])
    assert z[1][0] == 0.0
    assert z[1][1] is None or math.isnan(z[1][1])
    assert z[2] == [0.0, 0.0]

    text = [list(row) for row in heatmap.text]
    assert text[0] == ["✓ correct", "2/3"]
    assert text[1] == ["✗ wrong", ""]
    assert text[2] == ["? unparsed", "! error"]

    hover = heatmap.customdata[2][1]
    assert "seed 2" in hover
    assert "search(n=8)" in hover
    assert "error" in hover
    assert "99" in hover
    assert "not run yet" in heatmap.customdata[1][1]

    assert list(figure.layout.yaxis.ticktext) == ["seed 0", "seed 1", "seed 2"]
    assert list(figure.layout.xaxis.ticktext) == ["baseline", "search(n=8)"]
    assert figure.layout.xaxis.title.text == "Recipe"
    assert figure.layout.yaxis.title.text == "Question"
    assert figure.layout.title.text
    assert_serialises(figure)


def test_grid_height_grows_with_rows():
    recipes = ["baseline"]
    fifty = {"questions": [f"seed {i}" for i in range(50)], "recipes": recipes, "cells": [[cell(["wrong"])]] * 50}
    single = {"questions": ["only"], "recipes": recipes, "cells": [[cell(["correct"])]]}

    assert grid_figure(fifty).layout.height >= 50 * ROW_HEIGHT_PX
    assert grid_figure(single).layout.height == MIN_GRID_HEIGHT_PX
    assert [list(row) for row in grid_figure(single).data[0].z] == [[1.0]]


def test_grid_duplicate_labels_stay_apart():
    grid = {"questions": ["same", "same"], "recipes": ["baseline"], "cells": [[cell(["correct"])], [cell(["wrong"])]]}
    heatmap = grid_figure(grid).data[0]
    assert list(heatmap.y) == [0, 1]
    assert [list(row) for row in heatmap.z] == [[1.0], [0.0]]


def test_grid_escapes_labels():
    grid = {"questions": ["<b>bold</b>"], "recipes": ["baseline"], "cells": [[cell(["correct"])]]}
    figure = grid_figure(grid)
    assert figure.layout.yaxis.ticktext[0] == "&lt;b&gt;bold&lt;/b&gt;"
    assert "<b>bold</b>" not in figure.data[0].customdata[0][0]


def test_grid_all_verdicts_have_marks():
    verdicts = ["correct", "wrong", "unparsed", "error", "unverified", "cancelled"]
    grid = {"questions": verdicts, "recipes": ["baseline"], "cells": [[cell([verdict])] for verdict in verdicts]}
    marks = [row[0] for row in grid_figure(grid).data[0].text]
    for verdict, mark in zip(verdicts, marks):
        assert mark.endswith(verdict)


def test_grid_empty():
    no_questions = {"questions": [], "recipes": ["baseline"], "cells": []}
    no_recipes = {"questions": ["seed 0"], "recipes": [], "cells": [[]]}
    for grid in (no_questions, no_recipes):
        figure = grid_figure(grid)
        assert len(figure.data) == 0
        assert any("Nothing to plot yet" in text for text in texts(figure))
        assert_serialises(figure)


def test_all_figures_serialise():
    full = summary(BASELINE, search(2, 14), search(8, 22, strategy="best_of_n_oracle"), NOT_RUN)
    grid = {"questions": ["seed 0"], "recipes": ["baseline", "search(n=8)"], "cells": [[cell(["correct"]), cell([])]]}
    for figure in (accuracy_figure(full), compute_figure(full), scaling_figure(full), grid_figure(grid)):
        assert_serialises(figure)


# ---- ttt_loss_figure -------------------------------------------------------------------


TTT_DETAILS = {"train_loss": [1.25098, 1.07145, 0.8], "train_seconds": 7.5, "variations": 4, "adapted": True}


def test_ttt_loss_curve_per_step():
    figure = ttt_loss_figure(TTT_DETAILS)

    assert len(figure.data) == 1
    curve = figure.data[0]
    assert list(curve.x) == [1, 2, 3]
    assert list(curve.y) == [1.25098, 1.07145, 0.8]
    assert curve.mode == "lines+markers"
    assert figure.layout.xaxis.title.text == "Step"
    assert figure.layout.xaxis.dtick == 1
    assert figure.layout.yaxis.rangemode == "tozero"
    assert figure.layout.height == TTT_PLOT_HEIGHT_PX
    assert texts(figure) == ["batch of 4 leave-one-out examples · 7.5 s in all"]
    assert_serialises(figure)


def test_ttt_loss_many_steps_thin_ticks():
    figure = ttt_loss_figure(TTT_DETAILS | {"train_loss": [1.0] * 64})

    assert len(figure.data[0].x) == 64
    assert figure.layout.xaxis.dtick == 7


def test_ttt_loss_not_adapted_says_why():
    details = {"train_loss": [], "adapted": False, "not_adapted": "No variation could be built, <b>so</b> none."}
    figure = ttt_loss_figure(details)

    assert len(figure.data) == 0
    assert texts(figure) == ["No variation could be built, &lt;b&gt;so&lt;/b&gt;<br>none."]
    assert_serialises(figure)


def test_ttt_loss_stopped_before_training():
    figure = ttt_loss_figure({"train_loss": [], "adapted": False})

    assert len(figure.data) == 0
    assert "No training step ran" in texts(figure)[0]
    assert_serialises(figure)


# ---- gflownet_curves_figure --------------------------------------------------------------


GFLOWNET_CURVES = {"loss": [4.2, 1.5, 0.25], "log_z": [-6.0, -5.5, -5.25], "mean_reward": [0.0, 0.5, 1.0],
                   "seconds": [5.1, 10.2, 15.3]}


def test_gflownet_curves_three_panels():
    figure = gflownet_curves_figure(GFLOWNET_CURVES, "gflownet-basic_arithmetic-1")

    assert [trace.name for trace in figure.data] == ["loss", "log Z", "mean reward"]
    assert list(figure.data[0].y) == [4.2, 1.5, 0.25]
    assert list(figure.data[1].y) == [-6.0, -5.5, -5.25]
    assert list(figure.data[2].y) == [0.0, 0.5, 1.0]
    assert all(list(trace.x) == [1, 2, 3] for trace in figure.data)
    assert [trace.yaxis for trace in figure.data] == ["y", "y2", "y3"]  # one panel each
    assert figure.layout.xaxis.matches == "x3"  # the panels share the step axis
    assert figure.layout.xaxis3.title.text == "Step"
    assert figure.layout.title.text == "GFlowNet training of gflownet-basic_arithmetic-1"
    assert "No training step yet." not in texts(figure)
    assert_serialises(figure)


def test_gflownet_curves_empty():
    for curves in ({}, {"loss": [], "log_z": [], "mean_reward": [], "seconds": []}):
        figure = gflownet_curves_figure(curves)

        assert len(figure.data) == 3
        assert all(len(trace.y) == 0 for trace in figure.data)
        assert "No training step yet." in texts(figure)
        assert figure.layout.title.text == "GFlowNet training"
        assert_serialises(figure)


def test_gflownet_curves_escape_name():
    figure = gflownet_curves_figure(GFLOWNET_CURVES, "<b>x</b>")

    assert figure.layout.title.text == "GFlowNet training of &lt;b&gt;x&lt;/b&gt;"
