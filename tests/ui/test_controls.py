"""Controls built from the technique options: the right widget for each option, TTT's included."""

import gradio as gr

from lrm_lab.techniques.ttt import TTTOptions
from lrm_lab.ui.controls import collect_options, technique_option_controls


def controls_by_name() -> dict:
    with gr.Blocks():
        controls = technique_option_controls()
    return {(technique, name): control for technique, name, control in controls}


def test_ttt_options_get_controls():
    controls = controls_by_name()

    assert isinstance(controls["ttt", "variations"], gr.Slider)
    assert isinstance(controls["ttt", "steps"], gr.Slider)
    assert isinstance(controls["ttt", "rank"], gr.Number)
    assert isinstance(controls["ttt", "target_modules"], gr.Textbox)
    assert controls["ttt", "target_modules"].value == "q_proj,v_proj"
    assert isinstance(controls["ttt", "show_variations"], gr.Checkbox)
    assert controls["ttt", "steps"].elem_id == "option-ttt-steps"


def test_float_off_slider_steps_gets_number_box():
    controls = controls_by_name()

    # A slider in steps of 0.05 from 1e-6 could not show the default 0.001.
    learning_rate = controls["ttt", "learning_rate"]
    assert isinstance(learning_rate, gr.Number)
    assert learning_rate.value == 0.001
    assert learning_rate.step == 0.001
    assert controls["ttt", "alpha"].step == 1
    assert isinstance(controls["search", "temperature"], gr.Slider)
    assert isinstance(controls["memory", "threshold"], gr.Slider)


def test_collect_options_regroups_values():
    with gr.Blocks():
        controls = technique_option_controls()
    values = [control.value for _, _, control in controls]

    options = collect_options(controls, values)

    assert options["ttt"]["steps"] == TTTOptions().steps
    assert options["ttt"]["target_modules"] == "q_proj,v_proj"
    assert options["search"]["n"] == 4


def test_adapter_option_gets_dropdown():
    adapter = controls_by_name()["gflownet", "adapter"]

    assert isinstance(adapter, gr.Dropdown)
    assert adapter.allow_custom_value is True
    assert adapter.value == ""
    assert adapter.choices == [("newest for the question's family", "")]
