"""The memory endpoints, called with gradio_client against the launched app."""

import json

import pytest
from gradio_client import Client

from lrm_lab.models.fake import FakeBackend
from lrm_lab.service.compare import CompareRequest, run_comparison
from lrm_lab.service.memory import MemoryBank
from lrm_lab.tasks.question import Question

pytestmark = pytest.mark.model

MEMORY_ENDPOINTS = {"/memory_namespaces", "/memory_list", "/memory_similar", "/memory_get", "/memory_delete",
                    "/memory_export", "/memory_reset", "/memory_mark"}


@pytest.fixture(scope="module")
def client(launched_app):
    url, _ = launched_app
    return Client(url, verbose=False)


def add(store, namespace: str, question: str, answer: str) -> int:
    """Store a memory with the real embedding of its question; return its id."""
    bank = MemoryBank(store, namespace)
    memory_id, _ = store.add_memory(
        namespace=namespace, question_text=question, trace=f"Answer: {answer}", answer=answer, source="verified",
        model_id="fake", attempt_id=None, question_id=None, embedding_model=bank.embedder.name,
        embedding=bank.embedder.encode([question])[0].tobytes(),
    )
    return memory_id


def test_memory_endpoints_are_named(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert MEMORY_ENDPOINTS <= set(endpoints)


def test_list_search_read_export(client, launched_app):
    _, lab = launched_app
    add_id = add(lab.store, "api-read", "What is 3 + 4?", "7")
    sort_id = add(lab.store, "api-read", "Sort these words alphabetically: pear, apple, fig.", "apple, fig, pear")

    namespaces = client.predict(api_name="/memory_namespaces")
    assert {"namespace": "api-read", "entries": 2, "retrievals": 0} in namespaces

    listed = client.predict(namespace="api-read", api_name="/memory_list")
    assert [memory["id"] for memory in listed] == [sort_id, add_id]
    found = client.predict(namespace="api-read", text="apple", limit=5, api_name="/memory_list")
    assert [memory["id"] for memory in found] == [sort_id]

    similar = client.predict(namespace="api-read", text="What is 5 + 4?", k=1, api_name="/memory_similar")
    assert [memory["id"] for memory in similar] == [add_id]
    assert 0.5 < similar[0]["similarity"] <= 1.0

    memory = client.predict(memory_id=add_id, api_name="/memory_get")
    assert memory["trace"] == "Answer: 7"
    assert memory["run_id"] is None

    lines = client.predict(namespace="api-read", api_name="/memory_export").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [add_id, sort_id]


def test_delete_then_reset(client, launched_app):
    _, lab = launched_app
    first = add(lab.store, "api-edit", "What is 3 + 4?", "7")
    add(lab.store, "api-edit", "What is 6 times 7?", "42")
    add(lab.store, "api-edit", "What is 9 - 2?", "7")

    deleted = client.predict(memory_id=first, api_name="/memory_delete")
    assert deleted["id"] == first
    assert lab.store.get_memory(first) is None
    with pytest.raises(Exception, match=f"No memory with id {first}"):
        client.predict(memory_id=first, api_name="/memory_delete")

    with pytest.raises(Exception, match="Nothing was deleted"):
        client.predict(namespace="api-edit", confirm="yes", api_name="/memory_reset")
    assert lab.store.count_memories("api-edit") == 2
    reset = client.predict(namespace="api-edit", confirm="api-edit", api_name="/memory_reset")
    assert reset == {"namespace": "api-edit", "deleted": 2}
    assert lab.store.count_memories("api-edit") == 0


def test_locked_server_keeps_memories(client, launched_app, monkeypatch):
    _, lab = launched_app
    kept = add(lab.store, "api-locked", "What is 3 + 4?", "7")
    monkeypatch.setenv("LRM_LAB_LOCK_MODEL", "1")  # the app runs in this process, so it reads the variable
    with pytest.raises(Exception, match="LRM_LAB_LOCK_MODEL=1"):
        client.predict(memory_id=kept, api_name="/memory_delete")
    with pytest.raises(Exception, match="LRM_LAB_LOCK_MODEL=1"):
        client.predict(namespace="api-locked", confirm="api-locked", api_name="/memory_reset")
    assert lab.store.get_memory(kept) is not None


def test_mark_unverified_attempt(client, launched_app):
    _, lab = launched_app
    question = Question(text="Name a prime number between 10 and 14.", reference=None, source="typed")
    final = list(run_comparison(CompareRequest(question, ("baseline",)), FakeBackend(["Answer: 13"]), lab.store))[-1]
    attempt_id = final.columns["baseline"].attempt_id

    memory = client.predict(attempt_id=attempt_id, namespace="api-marked", api_name="/memory_mark")
    assert memory["source"] == "marked"
    assert memory["answer"] == "13"
    assert memory["namespace"] == "api-marked"
    assert client.predict(attempt_id=attempt_id, api_name="/memory_mark")["namespace"] == "model:fake"


@pytest.mark.parametrize(
    "api_name, kwargs, words",
    [
        ("/memory_list", {"namespace": "<script>alert(1)</script>"}, "namespace .* is invalid"),
        ("/memory_list", {"namespace": ""}, "namespace is empty"),
        ("/memory_list", {"namespace": "x" * 5000}, "maximum is 100"),
        ("/memory_list", {"namespace": "api-read", "limit": -5}, "from 1 to 1000"),
        ("/memory_list", {"namespace": "api-read", "text": "y" * 10_000}, "maximum of 2000"),
        ("/memory_similar", {"namespace": "api-read", "text": "  "}, "search text is empty"),
        ("/memory_similar", {"namespace": "api-read", "text": "7", "k": 0}, "from 1 to 100"),
        ("/memory_get", {"memory_id": -1}, "memory id must be a whole number"),
        ("/memory_get", {"memory_id": 987654}, "No memory with id 987654"),
        ("/memory_delete", {"memory_id": 0}, "memory id must be a whole number"),
        ("/memory_export", {"namespace": "nobody-here"}, "no memories to export"),
        ("/memory_reset", {"namespace": "../etc"}, "namespace .* is invalid"),
        ("/memory_mark", {"attempt_id": 987654}, "No attempt with id 987654"),
        ("/memory_mark", {"attempt_id": -2}, "attempt id must be a whole number"),
    ],
)
def test_memory_rejects_bad_input(client, api_name, kwargs, words):
    with pytest.raises(Exception, match=words):
        client.predict(api_name=api_name, **kwargs)
