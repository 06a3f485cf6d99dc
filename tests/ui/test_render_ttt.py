"""TTT's view in a Compare column and the History tab: variations by source, before and after, escaping."""

from lrm_lab.service.compare import ColumnState
from lrm_lab.tasks.extract import EXTRACTOR_VERSION
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.techniques.result import TechniqueResult
from lrm_lab.ui.history_tab import record_details, ttt_view
from lrm_lab.ui.render import details_html, result_html, ttt_html

# Shaped like the details of a ttt attempt on basic_arithmetic seed 3 on the embedded model, cut to two variations.
SIBLINGS = {
    "variations": 2,
    "variation_source": "siblings",
    "variation_list": [
        {"question": "Calculate -9 * 2.", "answer": "-18", "source": "siblings", "note": "seed 3802396291"},
        {"question": "Calculate 5 / 1.", "answer": "5", "source": "siblings", "note": "seed 2719622561"},
    ],
    "variations_dropped": ["seed 2776036472: same text as the question or an earlier sibling"],
    "variation_tokens": 0,
    "train_loss": [1.25098, 1.07145, 0.5],
    "adapted": True,
    "answer_before": "1",
    "verdict_before": "wrong",
    "trace_before": "Answer: 1",
    "tokens_before": 5,
    "train_seconds": 7.5,
}

# A typed question: one memory and one self-generated variant, with hostile text in every field.
HOSTILE = "<img src=x onerror=alert(1)>"
TYPED = {
    "variations": 2,
    "variation_source": "memory+self-generated",
    "variation_list": [
        {"question": f"What is 3 + 3? {HOSTILE}", "answer": "6", "source": "memory",
         "note": "retrieved by the memory stage"},
        {"question": "What is 5 + 1?", "answer": f"6{HOSTILE}", "source": "self-generated", "note": "3 of 4 votes"},
    ],
    "variations_dropped": [f"variant 2: no majority among 4 answers ({HOSTILE} x2, 7 x2)"],
    "variation_tokens": 500,
    "train_loss": [2.0, 1.5],
    "adapted": True,
    "answer_before": f"5{HOSTILE}",
    "verdict_before": "unverified",
    "trace_before": f"5 + 1 = 5 {HOSTILE}\nAnswer: 5",
    "tokens_before": 40,
    "train_seconds": 12.0,
}

NOT_ADAPTED = TYPED | {
    "variations": 0, "variation_source": "none", "variation_list": [], "train_loss": [], "adapted": False,
    "not_adapted": "No variation could be built, so the answer is the base model's.",
}


def test_siblings_view_lists_seeds_and_dropped():
    view = ttt_html(SIBLINGS, "-1", "correct", 12)

    assert "Trained on 2 variations</b> from reasoning-gym siblings" in view
    assert view.count("<tr><td>1</td><td>siblings<br><small>seed 3802396291</small>") == 1
    assert "<small>seed 2719622561</small>" in view
    assert "<code>-18</code>" in view
    assert "Dropped 1 candidate:" in view
    assert "seed 2776036472: same text as the question" in view


def test_view_puts_before_beside_after():
    view = ttt_html(SIBLINGS, "-1", "correct", 12)

    assert "<td>before adapting</td><td><code>1</code></td><td><span class=\"verdict verdict-wrong\"" in view
    assert "<td>after adapting</td><td><code>-1</code></td><td><span class=\"verdict verdict-correct\"" in view
    assert "<td>5</td></tr>" in view  # tokens before adapting
    assert "<td>7</td></tr>" in view  # tokens after: 12 in all, less 5 before and 0 for variants
    assert "Answer changed by adapting: <b>yes</b>" in view
    assert "3 training steps of a LoRA adapter in 7.5 s (loss 1.251 → 0.500)" in view
    assert "<pre class='trace-before'>Answer: 1</pre>" in view


def test_typed_view_labels_votes_and_memories():
    view = ttt_html(TYPED, "6", "unverified", 600)

    assert "nearest memories" in view
    assert "labelled by the model&#x27;s own majority vote" in view
    assert "self-generated<br><small>3 of 4 votes</small>" in view
    assert "memory<br><small>retrieved by the memory stage</small>" in view
    assert "took 500 generated tokens" in view
    assert "<td>60</td></tr>" in view  # 600 in all, less 500 for variants and 40 before


def test_view_escapes_model_and_question_text():
    view = ttt_html(TYPED, HOSTILE, "unverified", 600)

    assert "<img" not in view
    assert view.count("&lt;img src=x onerror=alert(1)&gt;") == 6


def test_not_adapted_said_plainly():
    view = ttt_html(NOT_ADAPTED, "5", "unverified", 40)

    assert "<b>Not adapted.</b> No variation could be built" in view
    assert "No variation was found" in view
    assert "not adapted: the column's answer is the one before adapting" in view
    assert "Answer changed" not in view


def test_stopped_before_training():
    stopped = {key: SIBLINGS[key] for key in ("variations", "variation_source", "variation_list",
                                               "variations_dropped", "variation_tokens")}
    view = ttt_html(stopped | {"train_loss": [], "adapted": False}, None, "cancelled", 0)

    assert "<b>Not adapted:</b> stopped before training. The adapter was removed." in view
    assert "before adapting" not in view  # no answer before adapting was stored


def test_stopped_mid_training_counts_steps():
    view = ttt_html(SIBLINGS | {"adapted": False, "train_loss": [1.2, 1.1]}, None, "cancelled", 5)

    assert "stopped after 2 training steps. The adapter was removed." in view
    assert "<td>after adapting</td><td colspan='3'><em>stopped before the adapted model answered</em>" in view
    assert "Answer changed" not in view


def result(details, completion_tokens=12):
    return TechniqueResult(technique="ttt+baseline", trace="Answer: -1", answer="-1", verdict=Verdict.CORRECT,
                           score=1.0, completion_tokens=completion_tokens, seconds=20.0,
                           extractor_version=EXTRACTOR_VERSION, details=details)


def test_result_says_what_tokens_count():
    column = ColumnState("ttt+baseline", "TTT", "ttt", status="done", result=result(SIBLINGS))

    assert "(variations and the answers before and after adapting)" in result_html(column)
    assert details_html(column) == ""  # TTT's view is drawn beside the column's details, not inside them


def record(technique, details):
    return {"technique": technique, "details": details, "answer": "-1", "verdict": "correct",
            "completion_tokens": 12, "options": {}, "extractor_version": EXTRACTOR_VERSION, "score": 1.0,
            "error": None, "question": {"text": "Calculate ( -9 / 9 ).", "reference": "-1"}, "run": {}}


def test_history_shows_ttt_view_for_ttt_attempts():
    visibility, view, figure = ttt_view(record("ttt+search", SIBLINGS))

    assert visibility["visible"] is True
    assert "Trained on 2 variations" in view
    assert list(figure.data[0].y) == SIBLINGS["train_loss"]


def test_history_hides_ttt_view_for_others():
    visibility, view, figure = ttt_view(record("memory+search", {"memory": {}}))

    assert visibility["visible"] is False
    assert view == ""
    assert figure is None


def test_history_details_leave_out_trace_before():
    details = record_details(record("ttt", SIBLINGS))["details"]

    assert "trace_before" not in details
    assert details["answer_before"] == "1"
