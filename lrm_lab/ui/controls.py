"""Build Gradio controls from technique option dataclasses, so new options need no UI code."""

from __future__ import annotations

import dataclasses
import math

import gradio as gr

from lrm_lab.models.base import ModelInfo
from lrm_lab.service.gflownet import adapter_rows
from lrm_lab.store import Store
from lrm_lab.techniques import TECHNIQUES
from lrm_lab.techniques.options import option_fields

SLIDER_STEP = 0.05  # step of a float slider, so a float option whose default is off these steps gets a number box
ADAPTER_OPTION = "adapter"  # an option of this name names a stored adapter, and gets a dropdown of them
NEWEST_ADAPTER = ("newest for the question's family", "")


def option_control(field: dataclasses.Field, key: str) -> gr.components.Component:
    """Build the control for one option: a dropdown for choices, a slider for a small bounded number."""
    meta = field.metadata
    label = field.name.replace("_", " ")
    if field.name == ADAPTER_OPTION:
        return gr.Dropdown([NEWEST_ADAPTER], value=field.default, allow_custom_value=True, label=label,
                           info=meta["help"], key=key)
    if meta.get("choices"):
        labels = meta.get("labels") or {}
        choices = [(labels.get(choice, choice), choice) for choice in meta["choices"]]
        return gr.Dropdown(choices, value=field.default, label=label, info=meta["help"], key=key)
    if isinstance(field.default, bool):
        return gr.Checkbox(value=field.default, label=label, info=meta["help"], key=key)
    if isinstance(field.default, (int, float)):
        step = 1 if isinstance(field.default, int) else SLIDER_STEP
        minimum, maximum = meta.get("minimum"), meta.get("maximum")
        if maximum is not None and maximum <= 64 and _on_steps(field.default, minimum, step):
            return gr.Slider(minimum, maximum, value=field.default, step=step, label=label,
                             info=meta["help"], key=key)
        if isinstance(field.default, int):
            return gr.Number(value=field.default, label=label, info=meta["help"], precision=0,
                             minimum=minimum, maximum=maximum, key=key)
        return gr.Number(value=field.default, label=label, info=meta["help"], minimum=minimum, maximum=maximum,
                         step=_number_step(field.default), key=key)
    return gr.Textbox(value=str(field.default), label=label, info=meta["help"], key=key)


def adapter_choices(store: Store, model: ModelInfo | None) -> list[tuple[str, str]]:
    """Return the adapter dropdown's choices: the newest for the family, then each adapter usable on ``model``."""
    choices = [NEWEST_ADAPTER]
    for row in adapter_rows(store, model):
        if row["usable here"]:
            stopped = ", stopped early" if row["status"] == "stopped" else ""
            steps = f"{row['steps']} step" + ("" if row["steps"] == 1 else "s")
            choices.append((f"{row['name']} ({row['family']}, {steps}{stopped})", row["name"]))
    return choices


def _on_steps(value: float, minimum: float | None, step: float) -> bool:
    """Return whether a slider from ``minimum`` in steps of ``step`` can show ``value``, such as 0.7 but not 0.001."""
    steps = (value - (minimum or 0)) / step
    return math.isclose(steps, round(steps), abs_tol=1e-9)


def _number_step(value: float) -> float:
    """Return a number box's arrow-key step: the default's order of magnitude, at most 1 (0.001 for 0.001)."""
    if value == 0:
        return 1
    return min(1.0, 10 ** math.floor(math.log10(abs(value))))


def technique_option_controls() -> list[tuple[str, str, gr.components.Component]]:
    """Render an accordion of controls per technique; return (technique, option, control) triples."""
    controls = []
    for technique in TECHNIQUES.values():
        with gr.Accordion(f"{technique.title} options", open=False):
            for field in option_fields(technique.options_type):
                control = option_control(field, key=f"option-{technique.name}-{field.name}")
                control.elem_id = f"option-{technique.name}-{field.name}"
                controls.append((technique.name, field.name, control))
    return controls


def collect_options(controls: list[tuple[str, str, gr.components.Component]], values: list) -> dict[str, dict]:
    """Regroup the flat list of control values into {technique: {option: value}}."""
    options: dict[str, dict] = {}
    for (technique, name, _), value in zip(controls, values, strict=True):
        options.setdefault(technique, {})[name] = value
    return options
