"""The command line: JSON output on the embedded model, bad input, history and show."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, database: Path, timeout: int = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    env = os.environ | {"LRM_LAB_DATABASE_URL": f"sqlite:///{database}"} | (env or {})
    return subprocess.run([sys.executable, "-m", "lrm_lab", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=timeout)


@pytest.mark.model
def test_compare_json_then_history_and_show(tmp_path):
    database = tmp_path / "cli.db"
    done = run_cli("compare", "--family", "basic_arithmetic", "--seed", "3", "--technique", "baseline",
                   "--technique", "search", "--n", "2", "--max-new-tokens", "32", "--json", database=database)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # stdout contains exactly one JSON object
    assert summary["question"]["family"] == "basic_arithmetic"
    assert summary["question"]["seed"] == 3
    results = summary["results"]
    assert [r["technique"] for r in results] == ["baseline", "search"]
    for result in results:
        assert {"technique", "answer", "verdict", "completion_tokens", "seconds", "details"} <= set(result)
    assert results[1]["details"]["n"] == 2
    assert "%" in done.stderr  # the progress bar goes to stderr

    listed = run_cli("history", "--json", database=database)
    assert {row["id"] for row in json.loads(listed.stdout)} == {r["attempt_id"] for r in results}

    shown = run_cli("show", str(results[0]["attempt_id"]), database=database)
    assert json.loads(shown.stdout)["trace"]


@pytest.mark.model
def test_compare_ttt_json_carries_training(tmp_path):
    done = run_cli("compare", "--family", "basic_arithmetic", "--seed", "3", "--technique", "ttt", "--technique",
                   "ttt+search", "--n", "2", "--steps", "1", "--variations", "2", "--max-new-tokens", "16", "--json",
                   database=tmp_path / "cli.db")

    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["results"]
    assert [r["recipe"] for r in results] == ["ttt(variations=2, steps=1)+baseline(max_new_tokens=16)",
                                              "ttt(variations=2, steps=1)+search(n=2, max_new_tokens=16)"]
    for result in results:
        details = result["details"]
        assert len(details["train_loss"]) == 1
        assert details["variations"] == 2
        assert details["variation_source"] == "siblings"
        assert "answer_before" in details
        assert details["adapted"] is True
    assert results[1]["details"]["n"] == 2


def test_option_flags_grouped_by_technique(tmp_path):
    done = run_cli("compare", "--help", database=tmp_path / "cli.db", timeout=60)

    assert done.returncode == 0
    groups = done.stdout.split("\n\n")
    ttt = next(group for group in groups if group.startswith("TTT options:"))
    for flag in ("--variations", "--steps", "--rank", "--alpha", "--target-modules", "--learning-rate", "--votes",
                 "--show-variations, --no-show-variations"):
        assert flag in ttt
    baseline = next(group for group in groups if group.startswith("Baseline options:"))
    assert "(baseline, search and gflownet) Maximum number of" in baseline


def test_ttt_options_belong_to_ttt_alone():
    from lrm_lab.cli.compare import option_owners
    from lrm_lab.techniques.options import option_fields
    from lrm_lab.techniques.ttt import TTTOptions

    for field in option_fields(TTTOptions):
        assert option_owners(field.name) == ["ttt"], field.name


@pytest.mark.parametrize(
    "args, words",
    [
        (["compare", "--family", "basic_arithmetic", "--technique", "search", "--n", "0"], "between 1 and 64"),
        (["compare", "--family", "basic_arithmetic", "--steps", "2"], "--steps is an option of ttt"),
        (["compare", "--family", "basic_arithmetic", "--technique", "ttt", "--target-modules", "q_proj;v_proj"],
         "target_modules must be layer names"),
        (["compare", "--family", "basic_arithmetic", "--temperature", "-1", "--technique", "search"], "temperature"),
        (["compare", "--family", "no_such_family"], "no_such_family"),
        (["compare", "--question", "   "], "empty"),
        (["compare", "--family", "chain_sum", "--settings", "{oops"], "JSON"),
        (["show", "999"], "No attempt with id 999"),
        (["show", "99999999999999999999999"], "whole number from 1 to"),
        (["history", "--limit", "0"], "between 1 and 1000"),
        (["compare", "--family", "chain_sum", "--answer", "5"], "--answer goes with --question"),
        (["compare", "--question", "What is 2 + 2?", "--technique", "search", "--strategy", "best_of_n_oracle"],
         "has none"),
    ],
)
def test_bad_input_exits_2_with_message(tmp_path, args, words):
    done = run_cli(*args, database=tmp_path / "cli.db")
    assert done.returncode == 2
    assert words in done.stderr
    assert done.stdout == ""
