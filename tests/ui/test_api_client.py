"""The named API endpoints, called with gradio_client against the launched app."""

import json

import pytest
from gradio_client import Client

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def client(launched_app):
    url, _ = launched_app
    return Client(url, verbose=False)


def test_endpoints_are_named(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/compare", "/history", "/attempt", "/model_info", "/load_model", "/benchmark", "/benchmark_summary",
            "/export"} <= set(endpoints)


def test_compare_then_read_history(client):
    summary = client.predict(
        family="leg_counting",
        question_seed=2,
        techniques="baseline,search",
        options='{"baseline": {"max_new_tokens": 40}, "search": {"n": 2, "max_new_tokens": 40}}',
        api_name="/compare",
    )
    assert summary["question"]["family"] == "leg_counting"
    assert [result["technique"] for result in summary["results"]] == ["baseline", "search"]

    history = client.predict(limit=5, api_name="/history")
    stored_ids = {row["id"] for row in history}
    assert {result["attempt_id"] for result in summary["results"]} <= stored_ids

    of_run = client.predict(limit=5, run_id=str(summary["run_id"]), recipe="baseline(max_new_tokens=40)",
                            api_name="/history")
    assert [row["id"] for row in of_run] == [summary["results"][0]["attempt_id"]]
    with pytest.raises(Exception, match="YYYY-MM-DD"):
        client.predict(limit=5, since="2025-13-01", api_name="/history")

    attempt = client.predict(attempt_id=summary["results"][0]["attempt_id"], api_name="/attempt")
    assert attempt["question"]["text"] == summary["question"]["text"]
    assert attempt["trace"]


def test_model_info_reports_device(client):
    info = client.predict(api_name="/model_info")
    assert info["device"] == "cpu"
    assert info["dtype"] == "float32"
    assert info["model_id"] == "embedded"


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"question": "", "family": "nope"}, "nope"),
        ({"techniques": "baseline", "options": "{broken"}, "JSON"),
        ({"techniques": "search", "options": '{"search": {"n": 1000000}}'}, "between 1 and 64"),
        ({"techniques": "search", "options": '{"search": {"temperature": -1}}'}, "temperature"),
    ],
)
def test_compare_rejects_bad_input(client, kwargs, words):
    with pytest.raises(Exception, match=words):
        client.predict(api_name="/compare", **kwargs)


def test_failed_load_keeps_model(client):
    with pytest.raises(Exception, match="GGUF file not found"):
        client.predict(model_id="/nonexistent/model.gguf", api_name="/load_model")
    assert client.predict(api_name="/model_info")["model_id"] == "embedded"


def test_cancelled_job_stops_run(client, launched_app):
    import time

    _, lab = launched_app
    job = client.submit(techniques="baseline", options='{"baseline": {"max_new_tokens": 3000}}', api_name="/compare")
    deadline = time.monotonic() + 120
    while not job.outputs() and time.monotonic() < deadline:  # wait for the first progress report
        time.sleep(0.2)
    run_id = job.outputs()[-1]["run_id"]
    job.cancel()

    while lab.store.get_run(run_id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert lab.store.get_run(run_id).status == "cancelled"


def test_benchmark_then_summary_and_export(client, launched_app):
    _, lab = launched_app
    job = client.submit(family="chain_sum", first_seed=5, count=2,
                        recipes="baseline:max_new_tokens=12\nsearch:n=2,max_new_tokens=12", api_name="/benchmark")
    summary = job.result()
    outputs = job.outputs()
    run_id = summary["run_id"]

    assert summary["status"] == "finished"
    assert [recipe["recipe"] for recipe in summary["recipes"]] == ["baseline(max_new_tokens=12)",
                                                                    "search(n=2, max_new_tokens=12)"]
    assert all(output["run_id"] == run_id for output in outputs[:-1])
    assert client.predict(run_id=run_id, api_name="/benchmark_summary") == summary

    exported = client.predict(run_id=run_id, format="jsonl", api_name="/export")
    rows = [json.loads(line) for line in exported.splitlines()]
    assert [row["attempt_id"] for row in rows] == [attempt.id for attempt in lab.store.run_attempts(run_id)]
    with pytest.raises(Exception, match="No run with id"):
        client.predict(run_id=987654, api_name="/export")


def test_benchmark_above_threshold_needs_confirm(client, monkeypatch):
    monkeypatch.setenv("LRM_LAB_CONFIRM_SECONDS", "0")

    with pytest.raises(Exception, match="confirm=True"):
        client.predict(family="chain_sum", count=1, recipes="baseline", api_name="/benchmark")
