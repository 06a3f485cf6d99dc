"""GFlowNet sampling's view in a Compare column and the History tab: adapter beside base model, votes, escaping."""

import gradio as gr

from lrm_lab.service.compare import ColumnState, CompareUpdate
from lrm_lab.tasks.extract import EXTRACTOR_VERSION
from lrm_lab.tasks.question import Question
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.techniques.result import TechniqueResult
from lrm_lab.ui.compare_tab import (
    COLUMNS,
    DEFAULT_COLUMNS,
    GFLOWNET_NOTE,
    _column_view,
    _columns_from_update,
)
from lrm_lab.ui.history_tab import gflownet_view, record_details
from lrm_lab.ui.render import (
    GFLOWNET_TABLE_CAPTION,
    details_html,
    gflownet_html,
    result_html,
)

HOSTILE = "<script>alert(1)</script>"


def candidate(index, answer, verdict, chosen=False, text="Answer: 7", tokens=12):
    return {"index": index, "answer": answer, "verdict": verdict, "score": None, "completion_tokens": tokens,
            "finish_reason": "stop", "chosen": chosen, "text": text}


# Shaped like the details of a gflownet attempt with n=4 on basic_arithmetic, with hostile model text.
DETAILS = {
    "adapter": "gflownet-basic_arithmetic-1",
    "adapter_family": "basic_arithmetic",
    "adapter_steps": 16,
    "adapter_objective": "tb_batch",
    "adapter_max_new_tokens": 96,
    "n": 4,
    "temperature": 1.0,
    "aggregation": "majority",
    "aggregation_used": "majority",
    "aggregation_note": "",
    "uses_reference": False,
    "seen_in_training": False,
    "chosen_index": 0,
    "votes": {"7": 2, "8": 1, HOSTILE: 1},
    "distinct_answers": 3,
    "distinct_correct_chains": 2,
    "any_correct": True,
    "unparsed_candidates": 0,
    "candidates": [
        candidate(0, "7", "correct", chosen=True, text=f"3 + 4 = 7 {HOSTILE}\nAnswer: 7"),
        candidate(1, "7", "correct", text="4 + 3 = 7\nAnswer: 7"),
        candidate(2, "8", "wrong"),
        candidate(3, HOSTILE, "wrong", text=f"Answer: {HOSTILE}"),
    ],
    "base": {
        "answer": "8",
        "verdict": "wrong",
        "votes": {"8": 3},
        "distinct_answers": 1,
        "distinct_correct_chains": 0,
        "any_correct": False,
        "unparsed_candidates": 1,
        "tokens": 41,
        "cancelled": False,
        "candidates": [
            candidate(0, "8", "wrong", chosen=True, text=f"base {HOSTILE}"),
            candidate(1, "8", "wrong"),
            candidate(2, "8", "wrong"),
            candidate(3, None, "unparsed", text="I cannot tell."),
        ],
    },
}
WITHOUT_BASE = {key: value for key, value in DETAILS.items() if key != "base"}


def table_rows(view: str) -> dict[str, list[str]]:
    """Return the side-by-side table's cells by row label, as HTML strings."""
    table = view.split('<table class="gflownet-compare">')[1].split("</table>")[0]
    rows = {}
    for row in table.split("<tbody>")[1].split("<tr>")[1:]:
        label = row.split("<th>")[1].split("</th>")[0]
        rows[label] = [cell.split("</td>")[0] for cell in row.split("<td>")[1:]]
    return rows


def test_view_escapes_model_text():
    view = gflownet_html(DETAILS)

    assert "<script>" not in view
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in view
    # The answer in the votes table, two adapter samples' texts and one's answer, a base sample's text.
    assert view.count("&lt;script&gt;") == 5


def test_view_names_adapter_and_training():
    view = gflownet_html(DETAILS)

    assert "<b>Adapter:</b> <code>gflownet-basic_arithmetic-1</code>" in view
    assert "trained on basic_arithmetic · 16 steps · objective <code>tb_batch</code>" in view
    assert "Sampled 4 chains at temperature 1.0; majority vote picks the answer." in view
    assert "Seen in training" not in view


def test_table_puts_adapter_beside_base():
    view = gflownet_html(DETAILS)
    rows = table_rows(view)

    assert f"<caption>{GFLOWNET_TABLE_CAPTION}</caption>" in view
    assert "<th>GFlowNet adapter</th><th>base model (adapter off)</th>" in view
    assert rows["distinct answers"] == ["3", "1"]
    assert rows["distinct correct chains"] == ["2", "0"]
    assert rows["any sample correct (pass@N, graded with the reference afterwards)"] == ["<b>yes</b>", "no"]
    assert rows["unparsed samples"] == ["0", "1"]
    assert rows["tokens"] == ["48", "41"]
    assert rows["answer (majority vote)"][0].startswith("<code>7</code> <span class=\"verdict verdict-correct\"")
    assert rows["answer (majority vote)"][1].startswith("<code>8</code> <span class=\"verdict verdict-wrong\"")


def test_votes_table_counts_both():
    view = gflownet_html(DETAILS)
    votes = view.split('<table class="gflownet-votes">')[1].split("</table>")[0]
    rows = votes.split("<tbody>")[1].split("<tr>")[1:]

    # Sorted by the votes of both together: 8 has 1 + 3, 7 has 2 + 0, the hostile answer 1 + 0.
    assert [row.split("<code>")[1].split("</code>")[0] for row in rows] == ["8", "7", "&lt;script&gt;alert(1)&lt;/script&gt;"]
    assert "style=\"width:25%\"></span></span> <span class='vote-count'>1</span>" in rows[0]  # adapter: 1 of 4
    assert "style=\"width:75%\"></span></span> <span class='vote-count'>3</span>" in rows[0]  # base: 3 of 4
    assert "verdict-correct" in rows[1]


def test_samples_of_both_listed():
    view = gflownet_html(DETAILS)

    assert "<summary>The 4 samples from the adapter</summary>" in view
    assert "<summary>The 4 samples from the base model</summary>" in view
    assert view.count("✔ chosen") == 2


def test_view_without_base_says_so():
    view = gflownet_html(WITHOUT_BASE)
    rows = table_rows(view)

    assert "base model (adapter off)" not in view
    assert rows["distinct answers"] == ["3"]
    assert "The base model was not sampled" in view
    assert "<th>base model</th>" not in view
    assert "from the base model" not in view


def test_view_of_partial_details():
    old = {"adapter": "old-adapter", "n": 2, "votes": {"5": 2}}
    view = gflownet_html(old)

    assert "<code>old-adapter</code>" in view
    assert table_rows(view)["distinct answers"] == ["–"]
    assert table_rows(view)["tokens"] == ["–"]
    assert "<code>5</code>" in view


def test_view_of_empty_details():
    assert "No adapter was switched on" in gflownet_html({})
    assert "No adapter was switched on" in gflownet_html({"adapter": None, "base": None})


def test_view_of_cancelled_base():
    details = DETAILS | {"base": DETAILS["base"] | {"cancelled": True}}

    assert "Stopped while the base model was sampling" in gflownet_html(details)


def test_view_warns_seen_in_training():
    details = DETAILS | {"seen_in_training": True, "aggregation_note": f"no verifier {HOSTILE}"}
    view = gflownet_html(details)

    assert "<b>Seen in training:</b>" in view
    assert '<p class="aggregation-note">no verifier &lt;script&gt;' in view


def result(details: dict) -> TechniqueResult:
    return TechniqueResult(technique="gflownet", trace="Answer: 7", answer="7", verdict=Verdict.CORRECT, score=1.0,
                           completion_tokens=48, seconds=3.0, extractor_version=EXTRACTOR_VERSION, details=details)


def test_details_html_leaves_samples_to_view():
    state = ColumnState("gflownet", "GFlowNet", "gflownet", status="done", result=result(DETAILS))

    assert details_html(state) == ""  # search's candidate table would need a strategy, which gflownet lacks
    assert "the adapter's samples; the base model's are counted apart" in result_html(state)


def test_gflownet_column_unticked_with_note():
    assert "gflownet" in COLUMNS
    assert "gflownet" not in DEFAULT_COLUMNS
    assert "Train tab" in GFLOWNET_NOTE


def update_with(column_result):
    state = ColumnState("gflownet", "GFlowNet", "gflownet", status="done" if column_result else "running",
                        result=column_result)
    return CompareUpdate(Question(text="Calculate 3 + 4.", reference="7", source="typed"), {"gflownet": state}, 0.5,
                         "Running GFlowNet")


def test_column_view_drawn_once():
    with gr.Blocks(), gr.Row():
        columns = {"gflownet": _column_view("gflownet")}
    view, drawn = columns["gflownet"], set()

    running = _columns_from_update(update_with(None), columns, drawn)
    assert view.gflownet not in running

    done = _columns_from_update(update_with(result(DETAILS)), columns, drawn)
    assert "gflownet-basic_arithmetic-1" in done[view.gflownet]
    assert view.ttt is None

    later = _columns_from_update(update_with(result(DETAILS)), columns, drawn)
    assert view.gflownet not in later


def record(technique: str, details: dict) -> dict:
    return {"technique": technique, "details": details, "options": {}, "extractor_version": EXTRACTOR_VERSION,
            "score": 1.0, "error": None, "question": {"text": "Calculate 3 + 4.", "reference": "7"}, "run": {}}


def test_history_shows_view_for_gflownet():
    shown = gflownet_view(record("gflownet", DETAILS))

    assert shown["visible"] is True
    assert "GFlowNet adapter vs base model" in shown["value"]


def test_history_hides_view_for_others():
    assert gflownet_view(record("search", {"candidates": []}))["visible"] is False
    assert gflownet_view(record("gflownet", {}))["visible"] is False  # failed before an adapter was found


def test_history_details_drop_sample_texts():
    details = record_details(record("gflownet", DETAILS))["details"]

    assert all("text" not in sample for sample in details["candidates"])
    assert all("text" not in sample for sample in details["base"]["candidates"])
    assert details["base"]["distinct_answers"] == 1
    assert "text" in DETAILS["base"]["candidates"][0]  # the stored details are left as they are
