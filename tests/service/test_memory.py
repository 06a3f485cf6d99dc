"""Memory end to end on a fake backend, the real embedding model and a real SQLite database."""

from __future__ import annotations

import pytest

from lrm_lab.errors import InputError
from lrm_lab.models.fake import FakeBackend
from lrm_lab.service.compare import CompareRequest, comparison_json, run_comparison
from lrm_lab.service.memory import (
    MemoryBank,
    MemorySettings,
    check_namespace,
    default_namespace,
    export_memories,
    mark_right,
)
from lrm_lab.tasks.question import Question

SEVEN = Question(text="What is 3 + 4?", reference="7", source="typed")
UNCHECKED = Question(text="Name a prime number between 10 and 14.", reference=None, source="typed")


def compare(store, question, columns, outputs, **kwargs):
    backend = FakeBackend(outputs)
    final = list(run_comparison(CompareRequest(question, columns, **kwargs), backend, store))[-1]
    return comparison_json(final), backend


def test_verified_answer_written_and_retrieved(store):
    first, _ = compare(store, SEVEN, ("memory",), ["3 plus 4 is 7.\nAnswer: 7"])
    assert first["results"][0]["verdict"] == "correct"
    assert first["results"][0]["details"]["memories_used"] == []
    memory_id = first["results"][0]["memory_written"]
    assert memory_id is not None

    second, backend = compare(store, SEVEN, ("memory",), ["Answer: 7"])
    details = second["results"][0]["details"]
    assert details["memories_used"] == [memory_id]
    assert details["memory"]["hits"][0]["attempt_id"] == first["results"][0]["attempt_id"]
    assert details["memory"]["hits"][0]["similarity"] == pytest.approx(1.0, abs=1e-3)
    # The remembered solution is an earlier chat turn, before the question.
    messages = backend.calls[0][0]
    assert [message["role"] for message in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == "3 plus 4 is 7.\nAnswer: 7"
    assert store.get_memory(memory_id).retrievals == 1


def test_wrong_answer_not_written(store):
    result, _ = compare(store, SEVEN, ("memory",), ["Answer: 8"])
    assert result["results"][0]["verdict"] == "wrong"
    assert result["results"][0]["memory_written"] is None
    assert store.count_memories(default_namespace("fake")) == 0


def test_baseline_column_does_not_write(store):
    result, _ = compare(store, SEVEN, ("baseline",), ["Answer: 7"])
    assert result["results"][0]["verdict"] == "correct"
    assert store.list_namespaces() == []


def test_writes_switched_off(store):
    result, _ = compare(store, SEVEN, ("memory",), ["Answer: 7"], memory=MemorySettings(writes=False))
    assert result["results"][0]["memory_written"] is None
    assert store.count_memories(default_namespace("fake")) == 0
    run = store.get_run(result["run_id"])
    assert run.settings["memory_writes"] is False
    assert run.settings["memory_namespace"] == "model:fake"


def test_run_records_namespace_and_writes(store):
    result, _ = compare(store, SEVEN, ("memory",), ["Answer: 7"], memory=MemorySettings("workshop-1"))
    settings = store.get_run(result["run_id"]).settings
    assert settings["memory_writes"] is True
    assert settings["memory_namespace"] == "workshop-1"
    assert settings["memory_entries_at_start"] == 0


def test_namespaces_isolated(store):
    compare(store, SEVEN, ("memory",), ["Answer: 7"], memory=MemorySettings("alice"))
    other, _ = compare(store, SEVEN, ("memory",), ["Answer: 7"], memory=MemorySettings("bob"))
    assert other["results"][0]["details"]["memories_used"] == []
    again, _ = compare(store, SEVEN, ("memory",), ["Answer: 7"], memory=MemorySettings("alice"))
    assert len(again["results"][0]["details"]["memories_used"]) == 1
    assert [(n.namespace, n.entries) for n in store.list_namespaces()] == [("alice", 1), ("bob", 1)]


def test_duplicate_solution_written_once(store):
    first, _ = compare(store, SEVEN, ("memory",), ["Answer: 7"])
    second, _ = compare(store, SEVEN, ("memory",), ["Answer: 7"])
    assert second["results"][0]["memory_written"] is None
    assert first["results"][0]["memory_written"] == second["results"][0]["memory_already_stored"]
    assert store.count_memories("model:fake") == 1


def test_clean_mode_skips_own_question(store):
    compare(store, SEVEN, ("memory",), ["Answer: 7"])
    clean, _ = compare(store, SEVEN, ("memory",), ["Answer: 7"], options={"memory": {"clean": True, "threshold": 0}})
    assert clean["results"][0]["details"]["memories_used"] == []
    assert clean["results"][0]["details"]["memory"]["clean"] is True
    # Another question may still use the memory in clean mode: that is transfer, not recall.
    other = Question(text="What is 3 + 5?", reference="8", source="typed")
    transfer, _ = compare(store, other, ("memory",), ["Answer: 8"], options={"memory": {"clean": True, "threshold": 0}})
    assert len(transfer["results"][0]["details"]["memories_used"]) == 1


def test_memory_composes_with_search(store):
    compare(store, SEVEN, ("memory",), ["Answer: 7"])
    result, backend = compare(store, SEVEN, ("memory+search",), ["Answer: 7", "Answer: 7", "Answer: 6"],
                              options={"search": {"n": 3}})
    row = result["results"][0]
    assert row["technique"] == "memory+search"
    assert row["recipe"] == "memory+search(n=3)"
    assert len(row["details"]["memories_used"]) == 1
    assert row["details"]["votes"] == {"7": 2, "6": 1}
    assert len(backend.calls[0][0]) == 3  # example question, example solution, the question
    record = store.get_attempt(row["attempt_id"])
    assert record.options["search"]["n"] == 3
    assert record.options["memory"]["k"] == 2


def test_threshold_filters_unrelated(store):
    compare(store, SEVEN, ("memory",), ["Answer: 7"])
    unrelated = Question(text="Sort these words alphabetically: pear, apple, fig.", reference="apple, fig, pear",
                         source="typed")
    result, _ = compare(store, unrelated, ("memory",), ["Answer: apple, fig, pear"])
    assert result["results"][0]["details"]["memories_used"] == []


def test_mark_right_writes_unverified(store):
    result, _ = compare(store, UNCHECKED, ("baseline",), ["Answer: 13"])
    attempt_id = result["results"][0]["attempt_id"]
    memory = mark_right(store, attempt_id)
    assert memory["source"] == "marked"
    assert memory["answer"] == "13"
    assert memory["attempt_id"] == attempt_id
    assert memory["namespace"] == "model:fake"
    assert store.get_attempt(attempt_id).verdict == "unverified"


def test_mark_right_rejects_checked_answer(store):
    result, _ = compare(store, SEVEN, ("baseline",), ["Answer: 8"])
    with pytest.raises(InputError, match="only unverified answers"):
        mark_right(store, result["results"][0]["attempt_id"])
    with pytest.raises(InputError, match="No attempt"):
        mark_right(store, 999)


def test_reference_never_written(store):
    # A question whose answer was never given by the model leaves no trace in memory.
    result, _ = compare(store, SEVEN, ("memory",), ["I do not know."])
    assert result["results"][0]["verdict"] == "unparsed"
    assert store.list_namespaces() == []


def test_export_lists_every_memory(store):
    compare(store, SEVEN, ("memory",), ["Answer: 7"])
    lines = export_memories(store, "model:fake").splitlines()
    assert len(lines) == 1
    assert '"answer": "7"' in lines[0]
    assert "embedding" not in lines[0].replace("embedding_model", "")


@pytest.mark.parametrize("name, words", [("", "empty"), ("x" * 101, "maximum is 100"), ("-bad", "invalid"),
                                         ("a;DROP TABLE", "invalid")])
def test_bad_namespace_rejected(name, words):
    with pytest.raises(InputError, match=words):
        check_namespace(name)


def test_retrieval_finds_neighbours(store):
    """On a small hand-made set, each query's nearest memory is the one on the same topic."""
    bank = MemoryBank(store, "neighbours")
    topics = {
        "What is 12 + 30?": "Add 17 and 25.",
        "Sort the words banana, cherry, apple in alphabetical order.": "Put these words in alphabetical order: kiwi, lime, fig.",
        "How many days are in three weeks?": "How many days are there in 5 weeks?",
        "Is 91 a prime number?": "Is 97 prime?",
    }
    ids = {}
    for stored_text in topics:
        vector = bank.embedder.encode([stored_text])[0].tobytes()
        ids[stored_text], _ = store.add_memory(namespace="neighbours", question_text=stored_text, trace="t",
                                               answer="a", source="verified", model_id="m", attempt_id=None,
                                               question_id=None, embedding_model=bank.embedder.name, embedding=vector)
    for stored_text, query in topics.items():
        hits = bank.nearest(query, k=1)
        assert [hit.id for hit in hits] == [ids[stored_text]], query


def test_technique_filter_matches_composed(store):
    compare(store, SEVEN, ("memory+search", "search"), ["Answer: 7"] * 4, options={"search": {"n": 2}})

    assert [a.technique for a in store.list_attempts(technique="memory")] == ["memory+search"]
    assert sorted(a.technique for a in store.list_attempts(technique="search")) == ["memory+search", "search"]
    assert store.list_attempts(technique="memory+search")[0].recipe == "memory+search(n=2)"
    assert store.list_attempts(technique="mem") == []


def test_columns_do_not_read_each_other(store):
    # Both columns are right, but neither sees the other's answer: writes wait for the run's end.
    result, _ = compare(store, SEVEN, ("memory", "memory+search"), ["Answer: 7", "Answer: 7", "Answer: 7"],
                        options={"search": {"n": 2}})
    memory, composed = result["results"]
    assert composed["details"]["memories_used"] == []
    assert memory["memory_written"] is not None
    assert composed["memory_already_stored"] == memory["memory_written"]
