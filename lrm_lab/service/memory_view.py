"""Browse and manage stored memories for the Memory tab, the API and the History tab's mark-right button.

Every function checks its raw input (namespace names, search text, ids, row counts) and raises
InputError with a message for the user, so the page and the API show it as it is.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from lrm_lab.errors import InputError
from lrm_lab.models.catalog import EMBEDDED
from lrm_lab.models.embedder import Embedder
from lrm_lab.service.history import parse_id
from lrm_lab.service.memory import (
    MAX_LISTED,
    MemoryBank,
    check_namespace,
    default_namespace,
    export_memories,
    mark_right,
    memory_json,
)
from lrm_lab.store import MemoryRecord, Store

log = logging.getLogger(__name__)

MEMORY_COLUMNS = [
    "id", "time (UTC)", "question", "answer", "source", "model", "from attempt", "retrievals",
    "last retrieved (UTC)",
]
SIMILAR_COLUMNS = ["id", "similarity", *MEMORY_COLUMNS[1:]]
SOURCE_LABELS = {"verified": "verified", "marked": "marked right by a user"}
SEARCH_MODES = ("contains", "similar")
MAX_SEARCH_CHARS = 2000
MAX_SIMILAR = 100
LOCK_VARIABLE = "LRM_LAB_LOCK_MODEL"


@dataclass(frozen=True)
class MemoryTable:
    """The rows the Memory tab shows for one namespace and search, with their headers and a status line."""

    headers: list[str]
    rows: list[list[Any]]
    status: str


def namespace_choices(store: Store) -> list[tuple[str, str]]:
    """Return (label, namespace) pairs for a menu, such as ("model:embedded · 3 entries", "model:embedded")."""
    return [(f"{record.namespace} · {_plural(record.entries, 'entry', 'entries')}", record.namespace)
            for record in store.list_namespaces()]


def namespaces_json(store: Store) -> list[dict[str, Any]]:
    """Return every namespace that has memories, with its entry and retrieval counts."""
    return [{"namespace": record.namespace, "entries": record.entries, "retrievals": record.retrievals}
            for record in store.list_namespaces()]


def loaded_namespace(model_id: str | None) -> str:
    """Return the namespace the Memory tab opens on: the loaded model's, or the embedded model's."""
    return default_namespace(model_id or EMBEDDED)


def list_memories_json(store: Store, namespace: str, text: str = "", limit: int | float = 100) -> list[dict[str, Any]]:
    """Return a namespace's memories, newest first, those containing ``text`` when it is given."""
    records = store.list_memories(check_namespace(namespace), text=check_search_text(text, required=False) or None,
                                  limit=check_limit(limit, MAX_LISTED, "number of rows"))
    return [memory_json(record) for record in records]


def similar_memories_json(
    store: Store, namespace: str, text: str, k: int | float = 5, embedder: Embedder | None = None
) -> list[dict[str, Any]]:
    """Return the k memories whose questions are most similar to ``text``, with their cosine similarity.

    A look-up here counts no retrieval: only the memory technique's searches do.
    """
    return [memory_json(record) | {"similarity": round(similarity, 4)}
            for record, similarity in _nearest(store, namespace, text, k, embedder)]


def memory_table(
    store: Store,
    namespace: str,
    search: str = "",
    mode: str = "contains",
    limit: int | float = 100,
    embedder: Embedder | None = None,
) -> MemoryTable:
    """Return the Memory tab's table: the newest memories, those containing ``search``, or the most similar.

    ``mode`` is "contains" (a case-insensitive substring of the question, answer or trace) or
    "similar" (the ``limit`` memories with the most similar questions, with a similarity column).
    """
    name = check_namespace(namespace)
    total = store.count_memories(name)
    if mode == "similar":
        found = _nearest(store, name, search, limit, embedder)
        rows = [_row(record, similarity) for record, similarity in found]
        return MemoryTable(SIMILAR_COLUMNS, rows, _status(name, total, len(rows), f"most similar to {_quote(search)}"))
    if mode != "contains":
        raise InputError(f"Invalid search mode {mode!r}. Choose one of {', '.join(SEARCH_MODES)}.")
    text = check_search_text(search, required=False)
    records = store.list_memories(name, text=text or None, limit=check_limit(limit, MAX_LISTED, "number of rows"))
    rows = [_row(record) for record in records]
    return MemoryTable(MEMORY_COLUMNS, rows, _status(name, total, len(rows), f"containing {_quote(text)}" if text else ""))


def memory_detail(store: Store, memory_id: int | float | str | None) -> dict[str, Any]:
    """Return one memory as JSON with where it came from: its attempt and that attempt's run id."""
    record = load_memory(store, memory_id)
    attempt = store.get_attempt(record.attempt_id) if record.attempt_id is not None else None
    return memory_json(record) | {
        "source_label": SOURCE_LABELS.get(record.source, record.source),
        "run_id": attempt.run_id if attempt is not None else None,
    }


def load_memory(store: Store, memory_id: int | float | str | None) -> MemoryRecord:
    """Return the memory with this id; raise InputError when the id is invalid or unknown."""
    identifier = parse_id(memory_id, "memory id")
    record = store.get_memory(identifier)
    if record is None:
        raise InputError(f"No memory with id {identifier}. It may have been deleted, so refresh the table to see the stored ones.")
    return record


def delete_entry(store: Store, memory_id: int | float | str | None, namespace: str | None = None) -> dict[str, Any]:
    """Delete one memory and return it as JSON.

    With ``namespace`` given, the memory must belong to it, so a typed id cannot delete an entry
    of a namespace the user is not looking at. Raises InputError on a locked server.
    """
    check_memory_edits_allowed()
    record = load_memory(store, memory_id)
    if namespace and record.namespace != check_namespace(namespace):
        raise InputError(
            f"Memory {record.id} belongs to namespace {record.namespace!r}, not {namespace.strip()!r}. "
            "Open that namespace to delete it."
        )
    if not store.delete_memory(record.id):  # deleted by another request since it was read
        raise InputError(f"No memory with id {record.id}. It was deleted already.")
    return memory_json(record)


def reset_memory(store: Store, namespace: str, confirm: str) -> int:
    """Delete every memory of a namespace and return how many, only when ``confirm`` repeats its name."""
    check_memory_edits_allowed()
    name = check_namespace(namespace)
    if (confirm or "").strip() != name:
        raise InputError(
            f"Nothing was deleted. To reset namespace {name!r} ({_plural(store.count_memories(name), 'memory', 'memories')}), "
            "type its name exactly as confirmation."
        )
    deleted = store.reset_namespace(name)
    log.info("memory namespace %r reset by a user: %d deleted", name, deleted)
    return deleted


def export_namespace(store: Store, namespace: str) -> str:
    """Return a namespace's memories as JSONL, oldest first; raise InputError when it has none."""
    name = check_namespace(namespace)
    if not store.count_memories(name):
        raise InputError(f"Namespace {name!r} has no memories to export. Pick one from the namespace menu.")
    return export_memories(store, name)


def export_namespace_file(store: Store, namespace: str) -> Path:
    """Write a namespace's memories to a new JSONL file in the temporary folder and return its path."""
    text = export_namespace(store, namespace)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", check_namespace(namespace)).strip("-.") or "namespace"
    path = Path(tempfile.mkdtemp(prefix="lrm-lab-memory-")) / f"memory-{slug}.jsonl"
    path.write_text(text, encoding="utf-8")
    return path


def mark_attempt_right(store: Store, attempt_id: int | float | str | None, namespace: str | None = "") -> dict[str, Any]:
    """Write an unverified attempt's answer to memory as marked right; return the memory as JSON.

    An empty ``namespace`` means the attempt model's own namespace.
    """
    check_memory_edits_allowed()
    identifier = parse_id(attempt_id, "attempt id")
    name = check_namespace(namespace) if (namespace or "").strip() else None
    return mark_right(store, identifier, name)


def check_memory_edits_allowed() -> None:
    """Raise InputError on a locked public server, where visitors share the memories.

    There no visitor may delete, reset or mark an answer right, because a marked answer is shown
    to every other visitor as a verified worked example.
    """
    if os.environ.get(LOCK_VARIABLE) == "1":
        raise InputError(
            f"This server keeps its memories fixed ({LOCK_VARIABLE}=1), so entries cannot be deleted, reset or "
            "marked right here. "
            "Run the lab on your own machine to manage memories."
        )


def check_search_text(text: str | None, required: bool = True) -> str:
    """Return the stripped search text. Raise InputError when it is too long, or empty while ``required``."""
    stripped = (text or "").strip()
    if required and not stripped:
        raise InputError("The search text is empty. Type a question to find the memories most similar to it.")
    if len(stripped) > MAX_SEARCH_CHARS:
        raise InputError(f"The search text is {len(stripped)} characters long, more than the maximum of {MAX_SEARCH_CHARS}. "
                         "Shorten it.")
    if "\x00" in stripped:  # SQLite ends a LIKE pattern at a NUL, so "a\x00b" would match everything starting with a
        raise InputError("The search text contains a NUL character (\\x00); remove it and search again.")
    return stripped


def check_limit(value: int | float | str | None, maximum: int, name: str) -> int:
    """Return ``value`` as a whole number from 1 to ``maximum``, or raise InputError naming ``name``."""
    invalid = InputError(f"The {name} must be a whole number from 1 to {maximum}, got {value!r}.")
    if value is None or isinstance(value, bool):
        raise invalid
    try:
        number = int(value.strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):  # "abc", NaN, infinity
        raise invalid from None
    if (not isinstance(value, str) and number != value) or not 1 <= number <= maximum:
        raise invalid
    return number


def _nearest(
    store: Store, namespace: str, text: str, k: int | float, embedder: Embedder | None
) -> list[tuple[MemoryRecord, float]]:
    bank = MemoryBank(store, namespace, embedder)
    hits = bank.nearest(check_search_text(text), check_limit(k, MAX_SIMILAR, "number of similar memories"))
    records = {record.id: record for record in store.get_memories(hit.id for hit in hits)}
    return [(records[hit.id], hit.similarity) for hit in hits if hit.id in records]


def _row(record: MemoryRecord, similarity: float | None = None) -> list[Any]:
    row = [
        record.id,
        _format_time(record.created_at),
        record.question_text,
        record.answer,
        SOURCE_LABELS.get(record.source, record.source),
        record.model_id,
        record.attempt_id if record.attempt_id is not None else "",
        record.retrievals,
        _format_time(record.last_retrieved_at) if record.last_retrieved_at else "never",
    ]
    if similarity is not None:
        row.insert(1, round(similarity, 3))
    return row


def _status(namespace: str, total: int, shown: int, search: str) -> str:
    """Say how many memories the namespace has and the table shows, as plain text (the page escapes it)."""
    text = f"Namespace {namespace}: {_plural(total, 'memory', 'memories')} · shown: {shown}"
    return f"{text} · {search}" if search else text


def _quote(text: str, width: int = 60) -> str:
    text = text.strip()
    return repr(text if len(text) <= width else text[:width] + "…")


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")
