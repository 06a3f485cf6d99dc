"""Plotly figures: benchmark accuracy, compute, scaling with N, rounds, the per-question grid, TTT's loss and GFlowNet training."""

from __future__ import annotations

import html
import logging
import math
import textwrap
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from lrm_lab.techniques.search import STRATEGY_LABELS, SearchOptions

logger = logging.getLogger(__name__)

ROW_HEIGHT_PX = 22  # height of one question row in the grid
MIN_GRID_HEIGHT_PX = 420
GRID_MARGIN_PX = 320  # title and slanted recipe labels around the grid rows; less left Plotly no room to draw
MAX_TICK_CHARS = 40  # longer question and recipe labels are cut on the axes
TTT_PLOT_HEIGHT_PX = 300  # the loss curve sits in a Compare column about 320 px wide
TTT_NOTE_CHARS = 40  # a message in the loss plot wraps at this many characters per line
MAX_STEP_TICKS = 10  # the loss plot labels every step up to this many steps, then every second one, and so on
GFLOWNET_PLOT_HEIGHT_PX = 520  # three stacked panels that share the step axis
# The GFlowNet training curves: key in TrainProgress.curves, panel title and hover label.
GFLOWNET_CURVES = (
    ("loss", "Loss (balance objective)", "loss"),
    ("log_z", "log Z", "log Z"),
    ("mean_reward", "Mean reward (the batch's mean verifier score)", "mean reward"),
)

# Cell text of a grid cell with one attempt.
VERDICT_MARKS = {
    "correct": "✓ correct",
    "wrong": "✗ wrong",
    "unparsed": "? unparsed",
    "error": "! error",
    "unverified": "– unverified",
    "cancelled": "⊘ cancelled",
}

_ACCURACY_AXIS = {"title": "Accuracy", "range": [0, 1], "tickformat": ".0%"}
_BASELINE_LABEL_POSITIONS = ("top left", "bottom left", "top right", "bottom right")
_RECIPE_HOVER = (
    "<b>%{customdata[0]}</b><br>accuracy %{y:.1%} (%{customdata[1]}/%{customdata[2]} correct)<br>"
    "95% interval %{customdata[3]:.1%} to %{customdata[4]:.1%}<br>"
    "unparsed %{customdata[5]}, errors %{customdata[6]}<br>"
    "mean %{customdata[7]} tokens, %{customdata[8]} s per question"
)


def accuracy_figure(summary: dict[str, Any]) -> go.Figure:
    """Draw accuracy per recipe as bars with 95% Wilson interval error bars."""
    title = _title("Accuracy per recipe", summary)
    recipes = _counted(summary)
    if not recipes:
        return _message_figure(title, "Nothing to plot yet: no recipe has a counted attempt.")

    bars = go.Bar(
        x=[recipe["recipe"] for recipe in recipes],
        y=[recipe["accuracy"] for recipe in recipes],
        error_y=_interval_bars(recipes),
        customdata=_recipe_hover_data(recipes),
        hovertemplate=_RECIPE_HOVER + "<extra></extra>",
    )
    figure = go.Figure(bars)
    figure.update_layout(title=title, xaxis_title="Recipe", yaxis=_ACCURACY_AXIS)
    _note_skipped(figure, summary, recipes)
    return figure


def compute_figure(summary: dict[str, Any]) -> go.Figure:
    """Plot accuracy against mean completion tokens per question, one labelled marker per recipe."""
    title = _title("Accuracy against compute", summary)
    recipes = [recipe for recipe in _counted(summary) if recipe.get("mean_tokens") is not None]
    if not recipes:
        return _message_figure(title, "Nothing to plot yet: no recipe has a counted attempt.")

    markers = go.Scatter(
        x=[recipe["mean_tokens"] for recipe in recipes],
        y=[recipe["accuracy"] for recipe in recipes],
        mode="markers+text",
        text=[recipe["recipe"] for recipe in recipes],
        textposition="top center",
        error_y=_interval_bars(recipes),
        customdata=_recipe_hover_data(recipes),
        hovertemplate=_RECIPE_HOVER + "<extra></extra>",
        cliponaxis=False,
    )
    figure = go.Figure(markers)
    figure.update_layout(
        title=title,
        xaxis={"title": "Mean completion tokens per question", "rangemode": "tozero"},
        yaxis=_ACCURACY_AXIS,
        showlegend=False,
    )
    _note_skipped(figure, summary, recipes)
    return figure


def scaling_figure(summary: dict[str, Any]) -> go.Figure:
    """Plot search accuracy against N, one line per (strategy, temperature), beside the baseline."""
    title = _title("Accuracy against the number of samples N", summary)
    counted = _counted(summary)
    searches = [recipe for recipe in counted if recipe.get("techniques") == ["search"]]
    if not searches:
        planned = any(recipe.get("techniques") == ["search"] for recipe in summary.get("recipes", []))
        if planned:
            return _message_figure(title, "Nothing to plot yet: no search recipe has a counted attempt.")
        return _message_figure(title, "Add search recipes with different n to see a scaling curve.")

    figure = go.Figure()
    for (strategy, temperature), members in _search_groups(searches).items():
        members.sort(key=lambda recipe: _search_option(recipe, "n"))
        figure.add_trace(
            go.Scatter(
                x=[_search_option(recipe, "n") for recipe in members],
                y=[recipe["accuracy"] for recipe in members],
                mode="lines+markers",
                name=f"{STRATEGY_LABELS.get(strategy, strategy)}, temperature {temperature}",
                error_y=_interval_bars(members),
                customdata=_recipe_hover_data(members),
                hovertemplate=_RECIPE_HOVER,
            )
        )

    baselines = [recipe for recipe in counted if recipe.get("techniques") == ["baseline"]]
    for index, baseline in enumerate(baselines):
        figure.add_hline(
            y=baseline["accuracy"],
            line_dash="dash",
            line_color="grey",
            annotation_text=f"{baseline['recipe']}: {baseline['accuracy']:.1%} ({baseline['correct']}/{baseline['n']})",
            annotation_position=_BASELINE_LABEL_POSITIONS[index % len(_BASELINE_LABEL_POSITIONS)],
        )
    if not baselines:
        _add_note(figure, "No baseline recipe in this run. Add one to compare search against it.")

    sizes = sorted({_search_option(recipe, "n") for recipe in searches})
    figure.update_layout(
        title=title,
        # N usually doubles from one recipe to the next, so a log axis spaces the points evenly.
        xaxis={
            "title": "Samples per question (N)",
            "type": "log",
            "tickvals": sizes,
            "ticktext": [str(n) for n in sizes],
        },
        yaxis=_ACCURACY_AXIS,
        # Strategy names are long, so the legend sits above the plot rather than beside it.
        legend={"title": "Search strategy", "orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    )
    _note_skipped(figure, summary, counted)
    return figure


def grid_figure(grid: dict[str, Any]) -> go.Figure:
    """Draw a heatmap of fraction correct, one row per question and one column per recipe."""
    questions, recipes, cells = grid["questions"], grid["recipes"], grid["cells"]
    title = "Verdicts per question and recipe"
    if not questions or not recipes:
        return _message_figure(title, "Nothing to plot yet: the grid has no questions or no recipes.")

    fractions = [[_fraction(cell) for cell in row] for row in cells]
    texts = [[_cell_text(cell) for cell in row] for row in cells]
    hovers = [
        [_cell_hover(question, recipe, cell) for recipe, cell in zip(recipes, row)]
        for question, row in zip(questions, cells)
    ]

    # Rows and columns are placed by index, so that two questions with the same label stay apart.
    heatmap = go.Heatmap(
        z=fractions,
        x=list(range(len(recipes))),
        y=list(range(len(questions))),
        zmin=0,
        zmax=1,
        colorscale=[[0, "#d73027"], [0.5, "#fee08b"], [1, "#1a9850"]],
        colorbar={"title": "Fraction correct", "tickformat": ".0%"},
        text=texts,
        texttemplate="%{text}",
        customdata=hovers,
        hovertemplate="%{customdata}<extra></extra>",
        xgap=1,
        ygap=1,
    )
    figure = go.Figure(heatmap)
    figure.update_layout(
        title={"text": title, "yref": "container", "y": 1, "yanchor": "top", "pad": {"t": 12}},
        height=max(MIN_GRID_HEIGHT_PX, ROW_HEIGHT_PX * len(questions) + GRID_MARGIN_PX),
        # Cells with no attempt have no colour, so the grey background shows through them.
        plot_bgcolor="#d9d9d9",
        margin={"t": 60, "b": 160},  # room for the slanted recipe labels below the grid
        xaxis=_label_axis("Recipe", recipes),
        yaxis={**_label_axis("Question", questions), "autorange": "reversed"},
    )
    return figure


def rounds_figure(summary: dict[str, Any]) -> go.Figure:
    """Draw accuracy per round for each recipe, with 95% Wilson intervals: the retry curve.

    A recipe with memory reads what memory recipes wrote in earlier rounds. A recipe without memory
    is the control, so its curve should stay level apart from sampling noise.
    """
    title = _title("Accuracy per round", summary)
    if summary.get("rounds", 1) < 2:
        return _message_figure(title, "One round only: run two or more rounds to see a retry curve.")
    figure = go.Figure()
    dashes = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")  # equal curves stay visible
    for index, recipe in enumerate(summary.get("recipes", [])):
        rounds = [row for row in recipe.get("by_round", []) if row["n"]]
        if not rounds:
            continue
        figure.add_trace(go.Scatter(
            x=[row["round"] for row in rounds],
            y=[row["accuracy"] for row in rounds],
            error_y=_interval_bars(rounds),
            mode="lines+markers",
            line={"dash": dashes[index % len(dashes)]},
            marker={"size": 10 - 2 * (index % 3)},
            name=recipe["recipe"],
            customdata=[[row["correct"], row["n"], row["ci_low"], row["ci_high"], _used_memory(row)] for row in rounds],
            hovertemplate=(f"<b>{html.escape(recipe['recipe'])}</b>, round %{{x}}<br>accuracy %{{y:.1%}} "
                           "(%{customdata[0]}/%{customdata[1]})<br>95% interval %{customdata[2]:.1%} to "
                           "%{customdata[3]:.1%}<br>%{customdata[4]}<extra></extra>"),
        ))
    if not figure.data:
        return _message_figure(title, "Nothing to plot yet: no round has a counted attempt.")
    memory = summary.get("memory") or {}
    writes = "on" if memory.get("writes") else "off"
    figure.update_layout(title=title, xaxis={"title": "Round", "dtick": 1}, yaxis=_ACCURACY_AXIS,
                         legend={"orientation": "h", "y": -0.25})
    _add_note(figure, f"Memory writes {writes}; namespace {memory.get('namespace') or 'none'}.")
    return figure


def ttt_loss_figure(details: dict[str, Any]) -> go.Figure:
    """Plot test-time training's loss per optimiser step, from a TTT attempt's details."""
    losses = details.get("train_loss") or []
    title = "TTT training loss per step"
    if not losses:
        reason = details.get("not_adapted") or "No training step ran before the attempt stopped."
        message = "<br>".join(html.escape(line, quote=False) for line in textwrap.wrap(reason, TTT_NOTE_CHARS))
        return _message_figure(title, message, height=TTT_PLOT_HEIGHT_PX, font_size=12)

    steps = list(range(1, len(losses) + 1))
    curve = go.Scatter(
        x=steps,
        y=losses,
        mode="lines+markers",
        hovertemplate="step %{x}<br>loss %{y:.4f}<extra></extra>",
    )
    figure = go.Figure(curve)
    figure.update_layout(
        title=title,
        height=TTT_PLOT_HEIGHT_PX,
        margin={"t": 50, "b": 50, "l": 60, "r": 20},
        xaxis={"title": "Step", "tick0": 1, "dtick": math.ceil(len(steps) / MAX_STEP_TICKS)},
        yaxis={"title": "Mean cross-entropy", "rangemode": "tozero"},
        showlegend=False,
    )
    seconds, variations = details.get("train_seconds"), details.get("variations")
    if seconds is not None and variations is not None:
        note = f"batch of {variations} leave-one-out examples · {seconds:.1f} s in all"
        figure.add_annotation(text=note, xref="paper", yref="paper", x=0, y=1.0, yanchor="bottom", showarrow=False,
                              xanchor="left", font={"size": 11})
    return figure


def gflownet_curves_figure(curves: dict[str, list[float]], name: str = "") -> go.Figure:
    """Plot a GFlowNet training run's loss, log Z and mean reward per step, in three panels on one step axis.

    ``curves`` is TrainProgress.curves or an adapter's stored curves. A missing or empty curve
    draws an empty panel, so that the figure can be shown before the first step.
    """
    title = f"GFlowNet training of {name}" if name else "GFlowNet training"
    figure = make_subplots(rows=len(GFLOWNET_CURVES), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                           subplot_titles=[panel for _, panel, _ in GFLOWNET_CURVES])
    steps = 0
    for row, (key, _, label) in enumerate(GFLOWNET_CURVES, start=1):
        values = list(curves.get(key) or [])
        steps = max(steps, len(values))
        figure.add_trace(go.Scatter(x=list(range(1, len(values) + 1)), y=values, mode="lines+markers", name=label,
                                    hovertemplate=f"step %{{x}}<br>{label} %{{y:.4f}}<extra></extra>"),
                         row=row, col=1)
    figure.update_xaxes(tick0=1, dtick=max(1, math.ceil(steps / MAX_STEP_TICKS)))
    figure.update_xaxes(title_text="Step", row=len(GFLOWNET_CURVES), col=1)
    figure.update_layout(title=html.escape(title, quote=False), height=GFLOWNET_PLOT_HEIGHT_PX, showlegend=False,
                         margin={"t": 80, "b": 50, "l": 60, "r": 20})
    if not steps:
        figure.add_annotation(text="No training step yet.", xref="paper", yref="paper", x=0.5, y=0.5,
                              showarrow=False, font={"size": 14})
    return figure


def _used_memory(row: dict[str, Any]) -> str:
    share = row.get("used_memory")
    return "no memory" if share is None else f"{share:.0%} of attempts were shown a memory"


# ---- Summary helpers -------------------------------------------------------------------


def _title(text: str, summary: dict[str, Any]) -> str:
    run_id = summary.get("run_id")
    return text if run_id is None else f"{text} (run {run_id})"


def _counted(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the recipes with at least one counted attempt, which are the ones with an accuracy."""
    return [
        recipe
        for recipe in summary.get("recipes", [])
        if recipe.get("n") and all(recipe.get(key) is not None for key in ("accuracy", "ci_low", "ci_high"))
    ]


def _interval_bars(recipes: list[dict[str, Any]]) -> dict[str, Any]:
    """Return asymmetric error bars that span each recipe's 95% Wilson interval."""
    return {
        "type": "data",
        "symmetric": False,
        "array": [recipe["ci_high"] - recipe["accuracy"] for recipe in recipes],
        "arrayminus": [recipe["accuracy"] - recipe["ci_low"] for recipe in recipes],
    }


def _recipe_hover_data(recipes: list[dict[str, Any]]) -> list[list[Any]]:
    """Return one row per recipe in the order that _RECIPE_HOVER reads them."""
    return [
        [
            recipe["recipe"],
            recipe["correct"],
            recipe["n"],
            recipe["ci_low"],
            recipe["ci_high"],
            recipe.get("unparsed", 0),
            recipe.get("errors", 0),
            _rounded(recipe.get("mean_tokens"), 1),
            _rounded(recipe.get("mean_seconds"), 2),
        ]
        for recipe in recipes
    ]


def _rounded(value: float | None, digits: int) -> float | str:
    return "–" if value is None else round(value, digits)


def _search_option(recipe: dict[str, Any], name: str) -> Any:
    """Return a search option of the recipe, or its default when the stored options omit it."""
    options = recipe.get("options", {}).get("search", {})
    return options.get(name, getattr(SearchOptions(), name))


def _search_groups(searches: list[dict[str, Any]]) -> dict[tuple[str, float], list[dict[str, Any]]]:
    # NOTE: recipes that differ only in another option, such as max_new_tokens, share a
    # group, so the line then has two points at the same N.
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for recipe in searches:
        key = (_search_option(recipe, "strategy"), _search_option(recipe, "temperature"))
        groups.setdefault(key, []).append(recipe)
    return groups


def _note_skipped(figure: go.Figure, summary: dict[str, Any], drawn: list[dict[str, Any]]) -> None:
    drawn_names = {recipe["recipe"] for recipe in drawn}
    skipped = [recipe["recipe"] for recipe in summary.get("recipes", []) if recipe["recipe"] not in drawn_names]
    if skipped:
        _add_note(figure, f"Not drawn, no counted attempt yet: {', '.join(skipped)}")


def _add_note(figure: go.Figure, text: str) -> None:
    """Add a line of text under the plot, below the x axis title."""
    figure.add_annotation(text=text, xref="paper", yref="paper", x=0, y=-0.22, showarrow=False, xanchor="left")
    figure.update_layout(margin={"b": 110})


def _message_figure(title: str, message: str, height: int | None = None, font_size: int = 16) -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text=message, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                          font={"size": font_size})
    figure.update_layout(title=title, xaxis={"visible": False}, yaxis={"visible": False}, plot_bgcolor="white",
                         height=height)
    return figure


# ---- Grid helpers ----------------------------------------------------------------------


def _fraction(cell: dict[str, Any]) -> float | None:
    """Return the fraction of the cell's attempts that are correct, or None when none has run."""
    if not cell.get("total"):
        return None
    return cell["correct"] / cell["total"]


def _cell_text(cell: dict[str, Any]) -> str:
    verdicts = cell.get("verdicts", [])
    if not verdicts:
        return ""
    if len(verdicts) == 1:
        return VERDICT_MARKS.get(verdicts[0], verdicts[0])
    return f"{cell['correct']}/{cell['total']}"


def _cell_hover(question: str, recipe: str, cell: dict[str, Any]) -> str:
    # Plotly reads hover text as HTML, and question labels come from uploaded files.
    question, recipe = html.escape(question, quote=False), html.escape(recipe, quote=False)
    verdicts = ", ".join(cell.get("verdicts", [])) or "not run yet"
    attempts = ", ".join(str(attempt_id) for attempt_id in cell.get("attempt_ids", [])) or "none"
    return (
        f"<b>{question}</b><br>recipe {recipe}<br>{cell.get('correct', 0)}/{cell.get('total', 0)} correct<br>"
        f"verdicts: {verdicts}<br>attempt ids: {attempts}"
    )


def _label_axis(title: str, labels: list[str], side: str | None = None) -> dict[str, Any]:
    """Return an axis placed by index that shows each label, cut to MAX_TICK_CHARS."""
    cut = [label if len(label) <= MAX_TICK_CHARS else label[: MAX_TICK_CHARS - 1] + "…" for label in labels]
    ticktext = [html.escape(label, quote=False) for label in cut]
    axis = {
        "title": title,
        "tickmode": "array",
        "tickvals": list(range(len(labels))),
        "ticktext": ticktext,
        "showgrid": False,
        "zeroline": False,
    }
    if side is not None:
        axis["side"] = side
    return axis
