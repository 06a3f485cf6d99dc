"""Re-scoring stored attempts with the current extractor: what changes, what cannot be re-scored, nothing stored."""

import pytest

from lrm_lab.errors import InputError
from lrm_lab.models.fake import FakeBackend
from lrm_lab.service.compare import CompareRequest, run_comparison
from lrm_lab.service.questions import build_question
from lrm_lab.service.rescore import RESCORE_COLUMNS, rescore_attempt, rescore_rows, rescore_run, rescore_summary
from lrm_lab.tasks.extract import EXTRACTOR_VERSION
from lrm_lab.tasks.question import Question

QUESTION = Question(text="What is 6 * 7?", reference="42", source="typed")
OLD_VERSION = "0"  # an extractor version older than any this code has


def new_run(store):
    return store.create_run(kind="compare", model_id="fake", model_revision=None, device="cpu", dtype="none",
                            settings={}, seed=0, package_versions={})


def stored(store, run_id, technique, trace, answer, verdict, details=None, options=None, error=None,
           question=QUESTION):
    """Store an attempt as an older extractor might have graded it, and read it back."""
    attempt_id = store.add_attempt(
        run_id=run_id, question_id=store.add_question(question), technique=technique, options=options or {},
        seed=0, model_id="fake", trace=trace, answer=answer, verdict=verdict, score=None,
        extractor_version=OLD_VERSION, completion_tokens=3, seconds=0.1, details=details or {}, error=error,
        recipe=technique,
    )
    return store.get_attempt(attempt_id)


def search_details(strategy, texts, answers, chosen_index, scores=None):
    """Search details as run_search stores them, with the stored answers an older extractor gave."""
    scores = scores or [0] * len(texts)
    return {
        "strategy": strategy,
        "chosen_index": chosen_index,
        "candidates": [
            {"index": i, "answer": answer, "verdict": "wrong", "score": score, "completion_tokens": 3,
             "finish_reason": "stop", "chosen": i == chosen_index, "text": text}
            for i, (text, answer, score) in enumerate(zip(texts, answers, scores))
        ],
    }


def search_options(strategy, n):
    return {"strategy": strategy, "n": n, "temperature": 0.7, "max_new_tokens": 256}


def test_changed_answer_is_reported(store):
    record = stored(store, new_run(store), "baseline", "6 * 7 = 42\nAnswer: 42", "7", "wrong",
                    options={"max_new_tokens": 256})
    report = rescore_attempt(record)
    assert report["rescorable"]
    assert report["changed"]
    assert (report["old_answer"], report["new_answer"]) == ("7", "42")
    assert (report["old_verdict"], report["new_verdict"]) == ("wrong", "correct")
    assert report["old_extractor_version"] == OLD_VERSION
    assert report["new_extractor_version"] == EXTRACTOR_VERSION
    assert report["new_score"] == 1.0


def test_rescore_stores_nothing(store):
    run_id = new_run(store)
    record = stored(store, run_id, "baseline", "Answer: 42", "7", "wrong")
    rescore_run(store, run_id)
    assert store.get_attempt(record.id) == record


def test_fresh_comparison_is_unchanged(store):
    backend = FakeBackend(["Answer: 42", "Answer: 41", "Answer: 42", "Answer: 41"])
    request = CompareRequest(QUESTION, ("baseline", "search"), {"search": {"n": 3}})
    run_id = list(run_comparison(request, backend, store))[-1].run_id
    reports = rescore_run(store, run_id)
    assert [report["changed"] for report in reports] == [False, False]
    search = reports[1]
    stored_details = store.get_attempt(search["attempt_id"]).details
    assert search["details"]["chosen_index"] == stored_details["chosen_index"]
    assert search["details"]["votes"] == stored_details["votes"] == {"41": 2, "42": 1}


def test_self_consistency_votes_again(store):
    texts = ["Answer: 42", "Answer: 41", "Answer: 42"]
    details = search_details("self_consistency", texts, ["4", "41", "4"], chosen_index=1, scores=[2, 1, 2])
    record = stored(store, new_run(store), "search", texts[1], "41", "wrong", details,
                    search_options("self_consistency", 3))
    report = rescore_attempt(record)
    assert report["changed"]
    assert report["new_answer"] == "42"
    assert report["new_verdict"] == "correct"
    assert report["details"]["chosen_index"] == 0
    assert report["details"]["votes"] == {"42": 2, "41": 1}
    assert report["note"] == "chosen sample 2 -> 1"


def test_oracle_picks_by_new_scores(store):
    texts = ["Answer: 41", "Answer: 42"]
    details = search_details("best_of_n_oracle", texts, [None, None], chosen_index=0)
    record = stored(store, new_run(store), "search", texts[0], None, "unparsed", details,
                    search_options("best_of_n_oracle", 2))
    report = rescore_attempt(record)
    assert report["details"]["chosen_index"] == 1
    assert (report["old_verdict"], report["new_verdict"]) == ("unparsed", "correct")
    assert report["note"] == "chosen sample 1 -> 2"


def test_self_scored_keeps_stored_choice(store):
    texts = ["Answer: 41", "Answer: 42", ""]
    details = search_details("best_of_n_self", texts, ["4", "4", None], chosen_index=0, scores=[-0.5, -1.0, None])
    record = stored(store, new_run(store), "search", texts[0], "4", "wrong", details,
                    search_options("best_of_n_self", 3))
    report = rescore_attempt(record)
    assert report["details"]["chosen_index"] == 0
    assert report["new_answer"] == "41"
    assert report["new_verdict"] == "wrong"
    assert report["changed"]  # the answer changed although the choice did not
    assert report["note"] == ""
    assert [c["score"] for c in report["details"]["candidates"]] == [-0.5, -1.0, None]
    assert report["details"]["any_correct"]


def test_cancelled_stays_cancelled(store):
    record = stored(store, new_run(store), "baseline", "6 * 7 = 42. Answer: 42", None, "cancelled")
    report = rescore_attempt(record)
    assert report["rescorable"]
    assert report["new_verdict"] == "cancelled"
    assert report["new_answer"] == "42"
    assert report["changed"]


def test_failed_technique_is_not_rescorable(store):
    record = stored(store, new_run(store), "baseline", "", None, "error", error="RuntimeError: out of memory")
    report = rescore_attempt(record)
    assert not report["rescorable"]
    assert not report["changed"]
    assert report["new_verdict"] == "error"
    assert "technique failed (RuntimeError: out of memory)" in report["note"]


def test_scorer_error_is_rescored(store):
    # verdict "error" with no error text: the output exists and only its check failed
    record = stored(store, new_run(store), "baseline", "Answer: 42", "42", "error")
    report = rescore_attempt(record)
    assert report["rescorable"]
    assert report["new_verdict"] == "correct"


def test_unknown_technique_is_not_rescorable(store):
    report = rescore_attempt(stored(store, new_run(store), "memory", "Answer: 42", "42", "correct"))
    assert not report["rescorable"]
    assert "'memory' has no re-scoring" in report["note"]


def test_search_without_samples_is_not_rescorable(store):
    record = stored(store, new_run(store), "search", "", None, "unparsed", {"strategy": "self_consistency"},
                    search_options("self_consistency", 2))
    report = rescore_attempt(record)
    assert not report["rescorable"]
    assert "stored no samples" in report["note"]


def test_outdated_options_are_not_rescorable(store):
    record = stored(store, new_run(store), "search", "Answer: 42", "42", "correct",
                    search_details("beam", ["Answer: 42"], ["42"], 0), {"strategy": "beam", "n": 1})
    report = rescore_attempt(record)
    assert not report["rescorable"]
    assert "strategy must be one of" in report["note"]


def test_family_question_rescored_with_its_scorer(store):
    question = build_question("family", "basic_arithmetic", "", 3)
    record = stored(store, new_run(store), "baseline", f"Answer: {question.reference}", None, "unparsed",
                    question=question)
    report = rescore_attempt(record)
    assert report["new_verdict"] == "correct"
    assert report["new_answer"] == question.reference


def test_run_summary_counts_verdict_changes(store):
    run_id = new_run(store)
    stored(store, run_id, "baseline", "Answer: 42", "7", "wrong")
    stored(store, run_id, "baseline", "so 42 it is. Answer: 42", None, "unparsed")
    stored(store, run_id, "baseline", "Answer: 41", "41", "wrong")
    stored(store, run_id, "baseline", "", None, "error", error="RuntimeError: boom")
    reports = rescore_run(store, run_id)
    summary = rescore_summary(reports)
    assert summary["attempts"] == 4
    assert summary["rescored"] == 3
    assert summary["not_rescorable"] == 1
    assert summary["changed"] == 2
    assert summary["verdict_changes"] == {"wrong -> correct": 1, "unparsed -> correct": 1}
    rows = rescore_rows(reports)
    assert all(len(row) == len(RESCORE_COLUMNS) for row in rows)
    assert [row[RESCORE_COLUMNS.index("changed")] for row in rows] == ["yes", "yes", "no", "no"]


@pytest.mark.parametrize("run_id, words", [(99, "No run with id 99"), ("x", "run id must be a whole number"),
                                            (None, "run id is missing")])
def test_rescore_run_rejects_bad_id(store, run_id, words):
    with pytest.raises(InputError, match=words):
        rescore_run(store, run_id)
