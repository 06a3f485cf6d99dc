"""Browsing and managing memories, on a real SQLite database and the real embedding model."""

from __future__ import annotations

import json
import math

import pytest

from lrm_lab.errors import InputError
from lrm_lab.models.fake import FakeBackend
from lrm_lab.service.compare import CompareRequest, comparison_json, run_comparison
from lrm_lab.service.memory import MemoryBank
from lrm_lab.service.memory_view import (
    MEMORY_COLUMNS,
    SIMILAR_COLUMNS,
    delete_entry,
    export_namespace,
    export_namespace_file,
    list_memories_json,
    loaded_namespace,
    mark_attempt_right,
    memory_detail,
    memory_table,
    namespace_choices,
    namespaces_json,
    reset_memory,
    similar_memories_json,
)
from lrm_lab.tasks.question import Question

SEVEN = Question(text="What is 3 + 4?", reference="7", source="typed")
UNCHECKED = Question(text="Name a prime number between 10 and 14.", reference=None, source="typed")
HOSTILE_NAMESPACES = ["", "   ", "x" * 101, "<script>alert(1)</script>", "../../etc/passwd", "a;DROP TABLE memories", "\x00"]
BAD_IDS = [None, "", "abc", -1, 0, 1.5, "1.5", True, math.nan, math.inf, 2**70]


def add(store, namespace: str, question: str, answer: str = "7", source: str = "verified", attempt_id=None) -> int:
    """Store a memory with the real embedding of its question; return its id."""
    bank = MemoryBank(store, namespace)
    memory_id, _ = store.add_memory(
        namespace=namespace, question_text=question, trace=f"Working it out.\nAnswer: {answer}", answer=answer,
        source=source, model_id="fake", attempt_id=attempt_id, question_id=None,
        embedding_model=bank.embedder.name, embedding=bank.embedder.encode([question])[0].tobytes(),
    )
    return memory_id


def compare(store, question, outputs, **kwargs) -> dict:
    final = list(run_comparison(CompareRequest(question, ("memory",), **kwargs), FakeBackend(outputs), store))[-1]
    return comparison_json(final)


@pytest.fixture
def arithmetic(store):
    """Three memories in namespace "workshop" (one marked right by a user) and one in "other"."""
    ids = {
        "add": add(store, "workshop", "What is 3 + 4?", "7"),
        "multiply": add(store, "workshop", "What is 6 times 7?", "42", source="marked"),
        "sort": add(store, "workshop", "Sort these words alphabetically: pear, apple, fig.", "apple, fig, pear"),
        "other": add(store, "other", "What is 3 + 4?", "7"),
    }
    return ids


def test_namespace_menu_counts_entries(store, arithmetic):
    assert namespace_choices(store) == [("other · 1 entry", "other"), ("workshop · 3 entries", "workshop")]
    assert namespaces_json(store) == [
        {"namespace": "other", "entries": 1, "retrievals": 0},
        {"namespace": "workshop", "entries": 3, "retrievals": 0},
    ]


def test_loaded_namespace_defaults_to_embedded():
    assert loaded_namespace(None) == "model:embedded"
    assert loaded_namespace("Qwen/Qwen2.5-0.5B-Instruct") == "model:Qwen/Qwen2.5-0.5B-Instruct"


def test_table_lists_newest_first(store, arithmetic):
    table = memory_table(store, "workshop")
    assert table.headers == MEMORY_COLUMNS
    assert [row[0] for row in table.rows] == [arithmetic["sort"], arithmetic["multiply"], arithmetic["add"]]
    multiply = table.rows[1]
    assert multiply[2:6] == ["What is 6 times 7?", "42", "marked right by a user", "fake"]
    assert multiply[6:] == ["", 0, "never"]
    assert table.rows[2][4] == "verified"
    assert table.status == "Namespace workshop: 3 memories · shown: 3"


def test_table_text_search_filters(store, arithmetic):
    table = memory_table(store, " workshop ", "  APPLE ", "contains")
    assert [row[0] for row in table.rows] == [arithmetic["sort"]]
    assert table.status == "Namespace workshop: 3 memories · shown: 1 · containing 'APPLE'"
    assert memory_table(store, "workshop", "100%_").rows == []  # LIKE wildcards are matched literally


def test_table_limit_caps_rows(store, arithmetic):
    assert len(memory_table(store, "workshop", limit=2).rows) == 2
    assert [row["id"] for row in list_memories_json(store, "workshop", "", 1)] == [arithmetic["sort"]]


def test_similar_orders_by_similarity(store, arithmetic):
    table = memory_table(store, "workshop", "What is 5 + 4?", "similar", 2)
    assert table.headers == SIMILAR_COLUMNS
    assert [row[0] for row in table.rows] == [arithmetic["add"], arithmetic["multiply"]]
    assert table.rows[0][1] > table.rows[1][1]
    assert "most similar to 'What is 5 + 4?'" in table.status
    # Browsing is not a retrieval: only the memory technique counts those.
    assert store.get_memory(arithmetic["add"]).retrievals == 0


def test_similar_json_has_similarity(store, arithmetic):
    hits = similar_memories_json(store, "workshop", "What is 3 + 4?", 1)
    assert [hit["id"] for hit in hits] == [arithmetic["add"]]
    assert hits[0]["similarity"] == pytest.approx(1.0, abs=1e-3)
    assert hits[0]["trace"] == "Working it out.\nAnswer: 7"
    assert similar_memories_json(store, "empty", "What is 3 + 4?", 3) == []


def test_invalid_namespace_rejected(store):
    calls = [
        (memory_table, ()), (list_memories_json, ()), (similar_memories_json, ("x",)), (export_namespace, ()),
        (reset_memory, ("confirmed",)),
    ]
    for namespace in HOSTILE_NAMESPACES:
        for function, extra in calls:
            with pytest.raises(InputError, match="namespace"):
                function(store, namespace, *extra)


def test_invalid_row_count_rejected(store):
    for limit in (0, -1, 1001, 1.5, "abc", None, True, math.nan, math.inf):
        with pytest.raises(InputError, match="number of rows must be a whole number from 1 to 1000"):
            memory_table(store, "workshop", limit=limit)


def test_invalid_k_rejected(store):
    for k in (0, -3, 101, "many", math.nan):
        with pytest.raises(InputError, match="number of similar memories must be a whole number from 1 to 100"):
            similar_memories_json(store, "workshop", "What is 3 + 4?", k)


def test_search_text_checked(store, arithmetic):
    with pytest.raises(InputError, match="search text is empty"):
        memory_table(store, "workshop", "   ", "similar")
    with pytest.raises(InputError, match="search text is 5000 characters long, more than the maximum of 2000"):
        memory_table(store, "workshop", "x" * 5000)
    with pytest.raises(InputError, match="search text is 5000 characters long"):
        similar_memories_json(store, "workshop", "x" * 5000)
    with pytest.raises(InputError, match="Invalid search mode 'regex'"):
        memory_table(store, "workshop", "7", "regex")


def test_hostile_search_text_is_plain_text(store, arithmetic):
    for text in ("'; DROP TABLE memories; --", "<script>alert(1)</script>", "%", "_"):
        assert memory_table(store, "workshop", text).rows == []
    assert store.count_memories("workshop") == 3


def test_nul_in_search_text_rejected(store, arithmetic):
    # SQLite would cut the LIKE pattern at the NUL and match every memory starting with "What".
    for mode in ("contains", "similar"):
        with pytest.raises(InputError, match="NUL character"):
            memory_table(store, "workshop", "What\x00zzz", mode)


def test_detail_names_attempt_and_run(store):
    result = compare(store, SEVEN, ["3 plus 4 is 7.\nAnswer: 7"])
    memory_id = result["results"][0]["memory_written"]
    detail = memory_detail(store, str(memory_id))
    assert detail["attempt_id"] == result["results"][0]["attempt_id"]
    assert detail["run_id"] == result["run_id"]
    assert detail["trace"] == "3 plus 4 is 7.\nAnswer: 7"
    assert detail["source_label"] == "verified"
    assert detail["namespace"] == "model:fake"


def test_detail_without_attempt(store, arithmetic):
    detail = memory_detail(store, arithmetic["multiply"])
    assert detail["attempt_id"] is None
    assert detail["run_id"] is None
    assert detail["source_label"] == "marked right by a user"


def test_invalid_memory_id_rejected(store, arithmetic):
    for identifier in BAD_IDS:
        with pytest.raises(InputError, match="memory id"):
            memory_detail(store, identifier)
        with pytest.raises(InputError, match="memory id"):
            delete_entry(store, identifier)
    assert store.count_memories("workshop") == 3


def test_delete_removes_entry(store, arithmetic):
    deleted = delete_entry(store, float(arithmetic["add"]), "workshop")
    assert deleted["id"] == arithmetic["add"]
    assert deleted["question"] == "What is 3 + 4?"
    assert store.get_memory(arithmetic["add"]) is None
    assert [row[0] for row in memory_table(store, "workshop").rows] == [arithmetic["sort"], arithmetic["multiply"]]
    with pytest.raises(InputError, match=f"No memory with id {arithmetic['add']}"):
        delete_entry(store, arithmetic["add"])


def test_delete_unknown_id_message(store, arithmetic):
    with pytest.raises(InputError, match="No memory with id 999999. It may have been deleted"):
        delete_entry(store, 999999)


def test_delete_checks_namespace(store, arithmetic):
    with pytest.raises(InputError, match="belongs to namespace 'other', not 'workshop'"):
        delete_entry(store, arithmetic["other"], "workshop")
    assert store.get_memory(arithmetic["other"]) is not None


def test_reset_needs_typed_name(store, arithmetic):
    for confirm in ("", "yes", "Workshop", "other", None):
        with pytest.raises(InputError, match="Nothing was deleted. To reset namespace 'workshop' \\(3 memories\\)"):
            reset_memory(store, "workshop", confirm)
    assert store.count_memories("workshop") == 3

    assert reset_memory(store, "workshop", " workshop ") == 3
    assert store.count_memories("workshop") == 0
    assert store.count_memories("other") == 1


def test_locked_server_rejects_edits(store, arithmetic, monkeypatch):
    monkeypatch.setenv("LRM_LAB_LOCK_MODEL", "1")
    with pytest.raises(InputError, match="LRM_LAB_LOCK_MODEL=1"):
        delete_entry(store, arithmetic["add"])
    with pytest.raises(InputError, match="LRM_LAB_LOCK_MODEL=1"):
        reset_memory(store, "workshop", "workshop")
    with pytest.raises(InputError, match="marked right"):
        mark_attempt_right(store, 1, "workshop")
    assert store.count_memories("workshop") == 3
    assert len(memory_table(store, "workshop").rows) == 3  # reading stays open


def test_export_writes_jsonl(store, arithmetic):
    lines = export_namespace(store, "workshop").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [arithmetic["add"], arithmetic["multiply"], arithmetic["sort"]]
    assert json.loads(lines[1])["source"] == "marked"

    path = export_namespace_file(store, "workshop")
    assert path.name == "memory-workshop.jsonl"
    assert path.read_text(encoding="utf-8").splitlines() == lines


def test_export_file_name_is_safe(store):
    add(store, "model:Qwen/Qwen2.5 @lab", "What is 3 + 4?")
    assert export_namespace_file(store, "model:Qwen/Qwen2.5 @lab").name == "memory-model-Qwen-Qwen2.5-lab.jsonl"


def test_export_empty_namespace_message(store):
    with pytest.raises(InputError, match="Namespace 'nobody' has no memories to export"):
        export_namespace(store, "nobody")


def test_mark_writes_to_default_namespace(store):
    result = compare(store, UNCHECKED, ["Answer: 13"])
    attempt_id = result["results"][0]["attempt_id"]
    memory = mark_attempt_right(store, str(attempt_id), "  ")
    assert memory["namespace"] == "model:fake"
    assert memory["source"] == "marked"
    assert memory["created"] is True
    assert mark_attempt_right(store, attempt_id, "")["created"] is False
    assert store.get_attempt(attempt_id).verdict == "unverified"


def test_mark_writes_to_named_namespace(store):
    result = compare(store, UNCHECKED, ["Answer: 13"])
    memory = mark_attempt_right(store, float(result["results"][0]["attempt_id"]), " workshop-1 ")
    assert memory["namespace"] == "workshop-1"
    assert [row[0] for row in memory_table(store, "workshop-1").rows] == [memory["id"]]


def test_mark_rejects_bad_input(store):
    verified = compare(store, SEVEN, ["Answer: 7"])["results"][0]["attempt_id"]
    with pytest.raises(InputError, match="only unverified answers can be marked right"):
        mark_attempt_right(store, verified, "")
    with pytest.raises(InputError, match="No attempt with id 424242"):
        mark_attempt_right(store, 424242, "")
    for identifier in BAD_IDS:
        with pytest.raises(InputError, match="attempt id"):
            mark_attempt_right(store, identifier, "")
    unchecked = compare(store, UNCHECKED, ["Answer: 13"])["results"][0]["attempt_id"]
    for namespace in HOSTILE_NAMESPACES[2:]:
        with pytest.raises(InputError, match="namespace"):
            mark_attempt_right(store, unchecked, namespace)
    assert store.count_memories("model:fake") == 1  # only the verified answer
