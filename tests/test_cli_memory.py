"""The memory commands and compare's memory flags, on a real SQLite database and the real embedding model."""

import json
import os
import subprocess
import sys

import pytest
from test_cli import ROOT, run_cli
from tiny import tiny_model, tiny_tokenizer

from lrm_lab.cli import build_parser, main
from lrm_lab.cli import memory as memory_cli
from lrm_lab.cli.compare import column_options, memory_settings, print_summary
from lrm_lab.models.catalog import EMBEDDED
from lrm_lab.models.fake import FakeBackend
from lrm_lab.service.compare import CompareRequest, comparison_json, run_comparison
from lrm_lab.service.memory import MemoryBank, MemorySettings, default_namespace
from lrm_lab.store import Store
from lrm_lab.tasks.question import Question

EMBEDDED_NAMESPACE = default_namespace(EMBEDDED)
# Memories written straight into the store, oldest first: (namespace, question, trace, answer).
MEMORIES = [
    (EMBEDDED_NAMESPACE, "What is 3 + 4?", "3 plus 4 is 7.\nAnswer: 7", "7"),
    (EMBEDDED_NAMESPACE, "Name a prime number between 10 and 12.", "11 has no divisors.\nAnswer: 11", "11"),
    ("workshop", "Sort the words pear, apple, fig.", "apple < fig < pear\nAnswer: apple, fig, pear", "apple, fig, pear"),
    ("workshop", "What is 10 - 6?", "Take 6 from 10.\nAnswer: 4", "4"),
]
UNCHECKED = Question(text="Name an even prime number.", reference=None, source="typed")
CHECKED = Question(text="What is 6 * 7?", reference="42", source="typed")


def add_memory(store: Store, namespace: str, question: str, trace: str, answer: str) -> int:
    """Write a memory as the service would, with the real embedding of its question."""
    bank = MemoryBank(store, namespace)
    memory_id, _ = store.add_memory(
        namespace=namespace, question_text=question, trace=trace, answer=answer, source="verified",
        model_id=EMBEDDED, attempt_id=None, question_id=None, embedding_model=bank.embedder.name,
        embedding=bank.embedder.encode([question])[0].tobytes(),
    )
    return memory_id


@pytest.fixture
def database(tmp_path):
    """A database with MEMORIES and two attempts on the fake backend: one unverified, one wrong."""
    path = tmp_path / "memory.db"
    with Store(f"sqlite:///{path}") as store:
        ids = [add_memory(store, *memory) for memory in MEMORIES]
        attempts = {}
        for question, output in ((UNCHECKED, "Answer: 2"), (CHECKED, "Answer: 41")):
            final = list(run_comparison(CompareRequest(question, ("baseline",)), FakeBackend([output]), store))[-1]
            attempts[question.reference] = comparison_json(final)["results"][0]["attempt_id"]
    return {"path": path, "ids": ids, "unverified": attempts[None], "wrong": attempts["42"]}


def memory(*args, database):
    return run_cli("memory", *args, database=database["path"], timeout=120)


def memory_json_of(*args, database):
    done = memory(*args, "--json", database=database)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def open_store(database) -> Store:
    return Store(f"sqlite:///{database['path']}")


def test_namespaces_lists_counts(database):
    listed = memory_json_of("namespaces", database=database)
    assert listed == [{"namespace": EMBEDDED_NAMESPACE, "entries": 2, "retrievals": 0},
                      {"namespace": "workshop", "entries": 2, "retrievals": 0}]

    table = memory("namespaces", database=database)
    assert table.returncode == 0
    assert "2 memories" in table.stdout
    assert "'workshop'" in table.stdout


def test_list_defaults_to_embedded_namespace(database):
    assert memory_cli.DEFAULT_NAMESPACE == EMBEDDED_NAMESPACE
    listed = memory_json_of("list", database=database)
    assert [row["id"] for row in listed] == [database["ids"][1], database["ids"][0]]  # newest first
    assert listed[0]["trace"] == MEMORIES[1][2]
    assert "embedding" not in listed[0]

    help_text = run_cli("memory", "list", "--help", database=database["path"]).stdout
    assert EMBEDDED_NAMESPACE in help_text


def test_list_table_and_limit(database):
    done = memory("list", "--namespace", "workshop", "--limit", "1", database=database)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    assert "'What is 10 - 6?'" in lines[0]
    assert "verified" in lines[0]


def test_list_search_filters(database):
    listed = memory_json_of("list", "--namespace", "workshop", "--search", "APPLE", database=database)
    assert [row["answer"] for row in listed] == ["apple, fig, pear"]

    missing = memory("list", "--namespace", "workshop", "--search", "banana", database=database)
    assert missing.returncode == 0
    assert missing.stdout == ""
    assert "No memory of namespace 'workshop' contains 'banana'" in missing.stderr


def test_list_similar_ranks_without_counting(database):
    listed = memory_json_of("list", "--similar", "What is 3 + 5?", "--k", "2", database=database)
    assert [row["id"] for row in listed] == database["ids"][:2]
    assert listed[0]["similarity"] > listed[1]["similarity"]
    assert listed[0]["question"] == "What is 3 + 4?"
    with open_store(database) as store:
        assert store.get_memory(database["ids"][0]).retrievals == 0  # browsing is not a retrieval


def test_list_unknown_namespace_reported(database):
    done = memory("list", "--namespace", "nobody", database=database)
    assert done.returncode == 0
    assert "Namespace 'nobody' has no memories" in done.stderr


def test_show_prints_question_and_trace(database):
    done = memory("show", str(database["ids"][0]), database=database)
    assert done.returncode == 0, done.stderr
    assert f"Memory {database['ids'][0]} in namespace '{EMBEDDED_NAMESPACE}'" in done.stdout
    assert "What is 3 + 4?" in done.stdout
    assert "3 plus 4 is 7." in done.stdout

    shown = memory_json_of("show", str(database["ids"][0]), database=database)
    assert shown["answer"] == "7"
    assert shown["source"] == "verified"


def test_show_escapes_control_characters(database):
    with open_store(database) as store:
        memory_id = add_memory(store, "workshop", "What is 1 + 1?", "\x1b[2JAnswer: 2", "2")
    done = memory("show", str(memory_id), database=database)
    assert "\x1b" not in done.stdout
    assert "\\x1b[2JAnswer: 2" in done.stdout


def test_delete_removes_one_memory(database):
    target = database["ids"][2]
    done = memory("delete", str(target), database=database)
    assert done.returncode == 0, done.stderr
    assert f"Deleted memory {target} of namespace 'workshop'." in done.stdout
    with open_store(database) as store:
        assert store.get_memory(target) is None
        assert store.count_memories("workshop") == 1

    again = memory("delete", str(target), database=database)
    assert again.returncode == 2
    assert f"No memory with id {target}" in again.stderr


def test_export_writes_jsonl_oldest_first(database):
    done = memory("export", "--namespace", "workshop", database=database)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["id"] for row in rows] == database["ids"][2:]
    assert {row["namespace"] for row in rows} == {"workshop"}

    default = memory("export", database=database)
    assert len(default.stdout.splitlines()) == 2
    assert EMBEDDED_NAMESPACE in default.stdout


def test_reset_needs_yes(database):
    rejected = memory("reset", "--namespace", "workshop", database=database)
    assert rejected.returncode == 2
    assert "Namespace 'workshop' has 2 memories" in rejected.stderr
    assert "--yes" in rejected.stderr
    with open_store(database) as store:
        assert store.count_memories("workshop") == 2

    done = memory("reset", "--namespace", "workshop", "--yes", database=database)
    assert done.returncode == 0, done.stderr
    assert "Deleted 2 memories of namespace 'workshop'." in done.stdout
    with open_store(database) as store:
        assert store.count_memories("workshop") == 0
        assert store.count_memories(EMBEDDED_NAMESPACE) == 2


def test_mark_writes_unverified_answer(database):
    marked = memory_json_of("mark", str(database["unverified"]), database=database)
    assert marked["source"] == "marked"
    assert marked["answer"] == "2"
    assert marked["attempt_id"] == database["unverified"]
    assert marked["namespace"] == "model:fake"  # the namespace of the attempt's model
    assert marked["created"] is True

    again = memory("mark", str(database["unverified"]), "--namespace", "workshop", database=database)
    assert again.returncode == 0, again.stderr
    assert "written as memory" in again.stdout
    assert "in namespace 'workshop'" in again.stdout
    with open_store(database) as store:
        assert store.get_attempt(database["unverified"]).verdict == "unverified"
        assert store.count_memories("workshop") == 3


def test_mark_rejects_checked_answer(database):
    done = memory("mark", str(database["wrong"]), database=database)
    assert done.returncode == 2
    assert f"Attempt {database['wrong']} has verdict wrong" in done.stderr
    assert "only unverified answers can be marked right" in done.stderr
    with open_store(database) as store:
        assert store.memories_of_attempt(database["wrong"]) == []


@pytest.mark.parametrize(
    "args, words",
    [
        (["show", "999"], "No memory with id 999"),
        (["show", "abc"], "memory id must be a whole number"),
        (["delete", "999"], "No memory with id 999"),
        (["mark", "999"], "No attempt with id 999"),
        (["list", "--namespace", "a;DROP TABLE"], "is invalid"),
        (["export", "--namespace=-bad"], "is invalid"),
        (["reset", "--namespace", " "], "--namespace is empty: name the namespace to reset"),
        (["mark", "1", "--namespace", "x" * 101], "maximum is 100"),
        (["list", "--k", "3"], "--k sets how many memories --similar lists"),
        (["list", "--similar", "seven", "--limit", "3"], "use --k instead of --limit"),
        (["list", "--limit", "0"], "--limit must be between 1 and 1000"),
        (["list", "--search", "  "], "--search is empty"),
    ],
)
def test_bad_input_exits_2(database, args, words):
    done = memory(*args, database=database)
    assert done.returncode == 2
    assert words in done.stderr
    assert done.stdout == ""


def test_commands_load_no_model(database):
    """namespaces, list, show, export, delete and reset import neither torch nor the model loader."""
    first = database["ids"][0]
    calls = [["namespaces"], ["list"], ["show", str(first)], ["export"], ["delete", str(first)],
             ["reset", "--namespace", "workshop", "--yes"]]
    script = (
        "import sys\n"
        "from lrm_lab.cli import main\n"
        f"for args in {calls!r}:\n"
        "    assert main(['memory', *args]) == 0, args\n"
        "print(sorted(name for name in ('torch', 'sentence_transformers', 'lrm_lab.models.loader') "
        "if name in sys.modules))\n"
    )
    env = os.environ | {"LRM_LAB_DATABASE_URL": f"sqlite:///{database['path']}"}
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


# compare's memory flags

def parse_compare(*args):
    return build_parser().parse_args(["compare", "--question", "What is 3 + 4?", *args])


def test_compare_parses_composed_technique():
    args = parse_compare("--technique", "memory+search", "--technique", "baseline", "--k", "3", "--clean",
                         "--n", "2", "--namespace", "workshop", "--no-memory-writes")
    columns, options = column_options(args)
    assert columns == ("memory+search", "baseline")
    assert options == {"baseline": {}, "memory": {"k": 3, "clean": True}, "search": {"n": 2}}
    assert memory_settings(args, columns) == MemorySettings("workshop", writes=False)


def test_compare_memory_alone_decodes_with_baseline():
    args = parse_compare("--technique", "memory", "--max-new-tokens", "16", "--no-clean")
    columns, options = column_options(args)
    assert columns == ("memory+baseline",)
    assert options == {"baseline": {"max_new_tokens": 16}, "memory": {"clean": False}}
    assert memory_settings(args, columns) == MemorySettings(None, writes=True)


def test_compare_stage_order_normalised():
    columns, _ = column_options(parse_compare("--technique", "search + memory"))
    assert columns == ("memory+search",)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--technique", "memory+bogus"], "--technique 'memory+bogus' has an unknown technique 'bogus'"),
        (["--technique", "memory+"], "has an empty technique name"),
        (["--technique", "search:n=8"], "compare takes technique names only"),
        (["--technique", "memory+search+baseline"], "more than one decoding technique"),
        (["--technique", "baseline", "--k", "3"], "--k is an option of memory, and no --technique uses it"),
        (["--technique", "search", "--namespace", "workshop"], "--namespace applies to memory columns"),
        (["--technique", "search", "--no-memory-writes"], "--no-memory-writes applies to memory columns"),
        (["--technique", "memory", "--namespace", "a;b"], "is invalid"),
        (["--technique", "memory", "--k", "9"], "memory option k must be between 1 and 8"),
    ],
)
def test_compare_rejects_bad_memory_input(tmp_path, args, words):
    done = run_cli("compare", "--question", "What is 3 + 4?", *args, database=tmp_path / "cli.db", timeout=120)
    assert done.returncode == 2
    assert words in done.stderr
    assert done.stdout == ""


def test_compare_help_lists_memory_flags(tmp_path):
    help_text = run_cli("compare", "--help", database=tmp_path / "cli.db").stdout
    for flag in ("--k K", "--threshold THRESHOLD", "--clean, --no-clean", "--namespace", "--no-memory-writes"):
        assert flag in help_text


def test_summary_shows_memories_used_and_written(store, capsys):
    seven = Question(text="What is 3 + 4?", reference="7", source="typed")
    first = list(run_comparison(CompareRequest(seven, ("memory",)), FakeBackend(["Answer: 7"]), store))[-1]
    written = comparison_json(first)["results"][0]["memory_written"]
    request = CompareRequest(seven, ("baseline", "memory+search"), {"search": {"n": 2}})
    final = list(run_comparison(request, FakeBackend(["Answer: 7", "Answer: 7", "Answer: 7"]), store))[-1]
    summary = comparison_json(final)

    print_summary(summary)
    lines = capsys.readouterr().out.splitlines()
    column = next(index for index, line in enumerate(lines) if line.startswith("memory+search(n=2)"))
    assert lines[column + 1] == "    memories used from namespace 'model:fake':"
    assert lines[column + 2].split() == ["memory", str(written), "similarity", "1.000", "from", "attempt",
                                         str(comparison_json(first)["results"][0]["attempt_id"])]
    assert lines[column + 3] == f"    already in memory as memory {written}"
    assert not any("memor" in line for line in lines[:column])  # the baseline column shows no memory lines


def test_compare_memory_search_on_tiny_model(tmp_path, monkeypatch, capsys):
    """compare --technique memory+search end to end on a tiny random model folder, reading a named namespace."""
    folder = tmp_path / "tiny-model"
    tokenizer = tiny_tokenizer()
    tiny_model(len(tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("LRM_LAB_DATABASE_URL", url)
    with Store(url) as store:
        remembered = add_memory(store, "workshop", *MEMORIES[0][1:])

    args = ["compare", "--question", "What is 3 + 4?", "--answer", "7", "--technique", "memory+search",
            "--n", "2", "--max-new-tokens", "6", "--threshold", "0", "--namespace", "workshop",
            "--model", str(folder), "--no-progress"]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["technique"] == "memory+search"
    assert result["details"]["memories_used"] == [remembered]
    assert result["details"]["memory"]["namespace"] == "workshop"

    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "memories used from namespace 'workshop':" in printed
    assert f"memory {remembered}" in printed
    assert "from no stored attempt" in printed  # this memory was written without an attempt
