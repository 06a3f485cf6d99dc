"""The train-gflownet and adapters commands, and a GFlowNet column from the command line, on the embedded model."""

import json
import os
import signal
import subprocess
import sys

import pytest

from test_cli import ROOT, run_cli

# Shrunk from the defaults (16 steps, 8 problems, 4 chains of 96 tokens) so a run takes seconds.
SMALL = ("--steps", "1", "--problems", "1", "--batch-size", "2", "--max-new-tokens", "16")


def env_for(tmp_path):
    return {"LRM_LAB_ADAPTER_DIR": str(tmp_path / "adapters")}


@pytest.mark.model
def test_train_sample_list_and_delete(tmp_path):
    database, env = tmp_path / "cli.db", env_for(tmp_path)
    trained = run_cli("train-gflownet", "--family", "basic_arithmetic", "--name", "cli-one", "--json", *SMALL,
                      database=database, env=env)
    assert trained.returncode == 0, trained.stderr
    row = json.loads(trained.stdout)
    assert row["status"] == "finished"
    assert row["steps_done"] == 1
    assert (tmp_path / "adapters" / "cli-one" / "lab_adapter.json").is_file()
    assert "Step 1 of 1" in trained.stderr

    compared = run_cli("compare", "--family", "basic_arithmetic", "--seed", "2", "--technique", "gflownet", "--n", "2",
                       "--max-new-tokens", "16", "--json", database=database, env=env)
    assert compared.returncode == 0, compared.stderr
    details = json.loads(compared.stdout)["results"][0]["details"]
    assert details["adapter"] == "cli-one"
    assert {"distinct_answers", "distinct_correct_chains", "base"} <= set(details)

    listed = run_cli("adapters", "--json", database=database, env=env)
    assert [adapter["name"] for adapter in json.loads(listed.stdout)] == ["cli-one"]

    deleted = run_cli("adapters", "--delete", "cli-one", database=database, env=env)
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(run_cli("adapters", "--json", database=database, env=env).stdout) == []
    assert not (tmp_path / "adapters" / "cli-one").exists()


@pytest.mark.parametrize("name", ["../x", ".hidden", "a/b"])
def test_bad_name_exits_2_before_loading(tmp_path, name):
    done = run_cli("train-gflownet", "--family", "basic_arithmetic", "--name", name, *SMALL,
                   database=tmp_path / "cli.db", env=env_for(tmp_path))
    assert done.returncode == 2
    assert "adapter name" in done.stderr
    assert "loading" not in done.stderr.lower()


@pytest.mark.model
def test_sigterm_stops_after_a_step_and_keeps_the_adapter(tmp_path):
    env = os.environ | {"LRM_LAB_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"} | env_for(tmp_path)
    args = ["train-gflownet", "--family", "basic_arithmetic", "--name", "term", "--steps", "30", "--problems", "1",
            "--batch-size", "2", "--max-new-tokens", "16"]
    process = subprocess.Popen([sys.executable, "-m", "lrm_lab", *args], stderr=subprocess.PIPE, text=True,
                               env=env, cwd=ROOT)
    for line in process.stderr:
        if line.startswith("Step 1 of 30"):
            process.send_signal(signal.SIGTERM)
            break
    rest = process.communicate(timeout=300)[1]
    assert process.returncode == 1
    assert "Stopped after" in rest
    listed = run_cli("adapters", "--json", database=tmp_path / "cli.db", env=env_for(tmp_path))
    (row,) = json.loads(listed.stdout)
    assert row["status"] == "stopped"
    assert 1 <= row["steps_done"] < 30
