"""The memory commands: list, search, show, delete, export and reset stored memories, and mark answers right.

    python -m lrm_lab memory namespaces
    python -m lrm_lab memory list --similar "What is 17 * 3?" --k 3
    python -m lrm_lab memory export --namespace workshop > workshop.jsonl
    python -m lrm_lab memory mark 42

These commands open only the database. The embedding model loads for --similar and mark, and
the language model never loads.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TYPE_CHECKING, Any

from lrm_lab.errors import InputError
from lrm_lab.models.catalog import EMBEDDED

if TYPE_CHECKING:
    from lrm_lab.store import MemoryRecord, Store

# Equal to default_namespace(EMBEDDED), as a test checks. It is written out so that parsing imports no service.
DEFAULT_NAMESPACE = f"model:{EMBEDDED}"
DEFAULT_LIMIT = 20
DEFAULT_SIMILAR = 5
NAMESPACE_HELP = f"memory namespace (default {DEFAULT_NAMESPACE}, the embedded model's own; " \
                 "`memory namespaces` lists them)"
# C0 and C1 control characters other than tab and newline, which could move the cursor or recolour the terminal.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def add_parser(commands: argparse._SubParsersAction) -> None:
    memory = commands.add_parser(
        "memory", help="list, search, show, delete, export and reset stored memories, and mark answers right",
        description="Manage the memories that memory columns and recipes read. These commands need only the "
        "database: the language model never loads.",
    )
    actions = memory.add_subparsers(dest="memory_command", required=True, metavar="ACTION")

    namespaces = actions.add_parser("namespaces", help="list the namespaces that have memories, with their counts")
    namespaces.add_argument("--json", action="store_true", help="print JSON instead of a table")

    listing = actions.add_parser("list", help="list a namespace's memories, newest first, or the most similar ones")
    listing.add_argument("--namespace", default=DEFAULT_NAMESPACE, help=NAMESPACE_HELP)
    search = listing.add_mutually_exclusive_group()
    search.add_argument("--search", metavar="TEXT", help="only memories whose question, answer or trace contains TEXT "
                        "(case-insensitive)")
    search.add_argument("--similar", metavar="TEXT", help="the memories whose questions are most similar to TEXT, "
                        "most similar first (loads the embedding model)")
    listing.add_argument("--k", type=int, help=f"number of memories --similar lists (default {DEFAULT_SIMILAR})")
    listing.add_argument("--limit", type=int, help=f"number of memories to list (default {DEFAULT_LIMIT})")
    listing.add_argument("--json", action="store_true", help="print JSON, with each memory's trace, instead of a table")

    show = actions.add_parser("show", help="print one memory with its question, answer and trace")
    show.add_argument("memory_id", metavar="ID", help="id of the memory, as `memory list` shows it")
    show.add_argument("--json", action="store_true", help="print the memory as one JSON object")

    delete = actions.add_parser("delete", help="delete one memory")
    delete.add_argument("memory_id", metavar="ID", help="id of the memory, as `memory list` shows it")

    export = actions.add_parser("export", help="print every memory of a namespace as JSONL, oldest first")
    export.add_argument("--namespace", default=DEFAULT_NAMESPACE, help=NAMESPACE_HELP)

    reset = actions.add_parser("reset", help="delete every memory of a namespace")
    reset.add_argument("--namespace", required=True, help="the namespace to empty")
    reset.add_argument("--yes", action="store_true", help="confirm the deletion, which cannot be undone")

    mark = actions.add_parser("mark", help="write an unverified answer to memory because it is right")
    mark.add_argument("attempt_id", metavar="ATTEMPT_ID", help="id of the stored attempt, as `history` shows it")
    mark.add_argument("--namespace", help="memory namespace to write to (default: the namespace of the attempt's "
                      f"model, such as {DEFAULT_NAMESPACE})")
    mark.add_argument("--json", action="store_true", help="print the written memory as one JSON object")


def run(args: argparse.Namespace) -> int:
    from lrm_lab.store import Store

    with Store() as store:
        return ACTIONS[args.memory_command](store, args)


def run_namespaces(store: Store, args: argparse.Namespace) -> int:
    records = store.list_namespaces()
    if args.json:
        print(json.dumps([{"namespace": record.namespace, "entries": record.entries, "retrievals": record.retrievals}
                          for record in records], ensure_ascii=False))
        return 0
    if not records:
        print("No memories are stored yet.", file=sys.stderr)
    for record in records:
        print(f"{_memories(record.entries):>14}  {record.retrievals:>6} retrievals  {record.namespace!r}")
    return 0


def run_list(store: Store, args: argparse.Namespace) -> int:
    from lrm_lab.service.memory import check_namespace, memory_json

    namespace = check_namespace(args.namespace)
    if args.similar is not None:
        records, similarities = _similar(store, namespace, args)
    else:
        records, similarities = _newest(store, namespace, args), {}

    if args.json:
        rows = [memory_json(record) | ({"similarity": similarities[record.id]} if similarities else {})
                for record in records]
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    if not records:
        print(_nothing_found(store, namespace, args), file=sys.stderr)
    for record in records:
        similarity = f"similarity {similarities[record.id]:.3f}  " if similarities else ""
        # repr() of the texts keeps control characters stored in them from acting on the terminal.
        print(f"{record.id:>6}  {similarity}{record.created_at:%Y-%m-%d %H:%M}  {record.source:<8}  "
              f"{record.retrievals:>4} retrievals  attempt {record.attempt_id!s:<6} "
              f"{record.answer!r:<12} {record.question_text[:60]!r}")
    return 0


def _newest(store: Store, namespace: str, args: argparse.Namespace) -> list[MemoryRecord]:
    from lrm_lab.service.memory import MAX_LISTED

    if args.k is not None:
        raise InputError("--k sets how many memories --similar lists: give --similar TEXT, or use --limit instead.")
    if args.search is not None and not args.search.strip():
        raise InputError("--search is empty: give the text to look for, or leave --search out.")
    limit = _check_count(args.limit, DEFAULT_LIMIT, "--limit", MAX_LISTED)
    return store.list_memories(namespace, text=args.search, limit=limit)


def _similar(store: Store, namespace: str, args: argparse.Namespace) -> tuple[list[MemoryRecord], dict[int, float]]:
    """Return the --k memories most similar to --similar, most similar first, and their cosine similarities."""
    from lrm_lab.service.memory import MAX_LISTED, MemoryBank

    if args.limit is not None:
        raise InputError("--similar lists --k memories: use --k instead of --limit.")
    if not args.similar.strip():
        raise InputError("--similar is empty: give a question to compare the memories with.")
    k = _check_count(args.k, DEFAULT_SIMILAR, "--k", MAX_LISTED)
    hits = MemoryBank(store, namespace).nearest(args.similar, k)  # does not count as a retrieval
    records = {record.id: record for record in store.get_memories(hit.id for hit in hits)}
    return [records[hit.id] for hit in hits if hit.id in records], {hit.id: round(hit.similarity, 4) for hit in hits}


def _check_count(value: int | None, default: int, flag: str, maximum: int) -> int:
    if value is None:
        return default
    if not 1 <= value <= maximum:
        raise InputError(f"{flag} must be between 1 and {maximum}, got {value}.")
    return value


def _nothing_found(store: Store, namespace: str, args: argparse.Namespace) -> str:
    from lrm_lab.models.embedder import EMBEDDING_MODEL

    if store.count_memories(namespace) == 0:
        return f"Namespace {namespace!r} has no memories. `python -m lrm_lab memory namespaces` lists those that have."
    if args.similar is not None:
        return f"No memory of namespace {namespace!r} has an embedding from {EMBEDDING_MODEL}, so --similar finds none."
    return f"No memory of namespace {namespace!r} contains {args.search!r}."


def run_show(store: Store, args: argparse.Namespace) -> int:
    from lrm_lab.service.memory import memory_json

    record = _load_memory(store, args.memory_id)
    if args.json:
        print(json.dumps(memory_json(record), ensure_ascii=False, indent=2))
        return 0
    source = "verified against the reference answer" if record.source == "verified" else "marked right by a user"
    last = f", last {record.last_retrieved_at:%Y-%m-%d %H:%M} UTC" if record.last_retrieved_at else ""
    print(f"Memory {record.id} in namespace {record.namespace!r}")
    print(f"created:     {record.created_at:%Y-%m-%d %H:%M} UTC")
    print(f"source:      {source}, from attempt {record.attempt_id} on model {record.model_id!r}")
    print(f"retrievals:  {record.retrievals}{last}")
    print(f"embedding:   {record.embedding_model}")
    print(f"\nQuestion:\n{_printable(record.question_text)}\n\nAnswer: {_printable(record.answer)}\n")
    print(f"Trace:\n{_printable(record.trace)}")
    return 0


def _printable(text: str) -> str:
    """Return the text with control characters other than tab and newline written as escapes."""
    return _CONTROL_CHARACTERS.sub(lambda match: repr(match.group())[1:-1], text)


def _load_memory(store: Store, value: str) -> MemoryRecord:
    from lrm_lab.service.history import parse_id

    memory_id = parse_id(value, "memory id")
    record = store.get_memory(memory_id)
    if record is None:
        raise InputError(f"No memory with id {memory_id}. `python -m lrm_lab memory list --namespace NS` "
                         "lists the stored ids.")
    return record


def run_delete(store: Store, args: argparse.Namespace) -> int:
    record = _load_memory(store, args.memory_id)
    if not store.delete_memory(record.id):
        raise InputError(f"No memory with id {record.id}: it was deleted while this command ran.")
    print(f"Deleted memory {record.id} of namespace {record.namespace!r}.")
    return 0


def run_export(store: Store, args: argparse.Namespace) -> int:
    from lrm_lab.service.memory import check_namespace, export_memories

    namespace = check_namespace(args.namespace)
    text = export_memories(store, namespace)
    if not text:
        print(f"Namespace {namespace!r} has no memories; nothing to export.", file=sys.stderr)
    sys.stdout.write(text)
    return 0


def run_reset(store: Store, args: argparse.Namespace) -> int:
    from lrm_lab.service.memory import check_namespace

    if not args.namespace.strip():
        raise InputError("--namespace is empty: name the namespace to reset. `python -m lrm_lab memory namespaces` "
                         "lists them.")
    namespace = check_namespace(args.namespace)
    count = store.count_memories(namespace)
    if count == 0:
        print(f"Namespace {namespace!r} has no memories; nothing to delete.", file=sys.stderr)
        return 0
    if not args.yes:
        raise InputError(
            f"Namespace {namespace!r} has {_memories(count)}, and reset would delete "
            f"{'it' if count == 1 else 'all of them'} for good: add --yes to confirm. `python -m lrm_lab memory export --namespace {namespace!r} > memories.jsonl` "
            "saves them first."
        )
    deleted = store.reset_namespace(namespace)
    print(f"Deleted {_memories(deleted)} of namespace {namespace!r}.")
    return 0


def _memories(count: int) -> str:
    return f"{count} memory" if count == 1 else f"{count} memories"


def run_mark(store: Store, args: argparse.Namespace) -> int:
    from lrm_lab.service.history import parse_id
    from lrm_lab.service.memory import check_namespace, mark_right

    attempt_id = parse_id(args.attempt_id, "attempt id")
    namespace = check_namespace(args.namespace) if args.namespace is not None else None
    memory = mark_right(store, attempt_id, namespace)
    if args.json:
        print(json.dumps(memory, ensure_ascii=False, indent=2))
        return 0
    state = "written as" if memory["created"] else "was already stored as"
    print(f"Attempt {attempt_id} marked right: its answer {memory['answer']!r} {state} memory {memory['id']} "
          f"in namespace {memory['namespace']!r}.")
    return 0


ACTIONS: dict[str, Any] = {
    "namespaces": run_namespaces,
    "list": run_list,
    "show": run_show,
    "delete": run_delete,
    "export": run_export,
    "reset": run_reset,
    "mark": run_mark,
}
