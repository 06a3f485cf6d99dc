"""Build Gradio controls from technique option dataclasses, so new options need no UI code."""

from __future__ import annotations

import dataclasses

import gradio as gr

from lrm_lab.techniques import TECHNIQUES
from lrm_lab.techniques.options import option_fields


def option_control(field: dataclasses.Field, key: str) -> gr.components.Component:
    """Build the control for one option: a dropdown for choices, a slider for a small bounded number."""
    meta = field.metadata
    label = field.name.replace("_", " ")
    if meta.get("choices"):
        labels = meta.get("labels") or {}
        choices = [(labels.get(choice, choice), choice) for choice in meta["choices"]]
        return gr.Dropdown(choices, value=field.default, label=label, info=meta["help"], key=key)
    if isinstance(field.default, bool):
        return gr.Checkbox(value=field.default, label=label, info=meta["help"], key=key)
    if isinstance(field.default, (int, float)):
        step = 1 if isinstance(field.default, int) else 0.05
        maximum = meta.get("maximum")
        if maximum is not None and maximum <= 64:
            return gr.Slider(meta["minimum"], maximum, value=field.default, step=step, label=label,
                             info=meta["help"], key=key)
        precision = 0 if isinstance(field.default, int) else None
        return gr.Number(value=field.default, label=label, info=meta["help"], precision=precision,
                         minimum=meta.get("minimum"), maximum=maximum, key=key)
    return gr.Textbox(value=str(field.default), label=label, info=meta["help"], key=key)


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
