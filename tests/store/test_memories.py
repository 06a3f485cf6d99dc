"""Memory rows in the store: ids, namespaces and deletes."""


def add(store, namespace: str, text: str) -> int:
    memory_id, _ = store.add_memory(namespace=namespace, question_text=text, trace="t", answer="a",
                                    source="verified", model_id="m", attempt_id=None, question_id=None,
                                    embedding_model="e", embedding=b"\x00" * 4)
    return memory_id


def test_deleted_memory_id_never_reused(store):
    first = add(store, "ns", "one")
    second = add(store, "ns", "two")
    store.delete_memory(second)
    store.reset_namespace("ns")

    third = add(store, "ns", "three")

    assert third > second > first
