"""The Benchmark screen in Debian's Chromium: upload, run, stop, resume, plots and export."""

import json
import urllib.request
from pathlib import Path

import pytest
from browser_tools import type_value

from lrm_lab.service.export import read_export

pytestmark = [pytest.mark.model, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def bench_page(browser, launched_app):
    url, _ = launched_app
    opened = browser.new_page(viewport={"width": 1400, "height": 2400})
    opened.goto(url)
    opened.wait_for_selector("#model-view")
    opened.wait_for_function("document.querySelector('#model-view').innerText.includes('device')")
    opened.get_by_role("tab", name="Benchmark").click()
    opened.wait_for_selector("#bench-run")
    yield opened
    opened.close()


def wait_for_status(page, words: str, timeout_ms: int = 240_000):
    page.wait_for_function(f"document.querySelector('#bench-status').innerText.includes({json.dumps(words)})",
                           timeout=timeout_ms)
    return page.locator("#bench-status").inner_text()


def test_benchmark_runs_and_exports(bench_page, launched_app, tmp_path):
    page = bench_page
    _, lab = launched_app
    page_errors = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    type_value(page, "#bench-count input", "2")
    type_value(page, "#bench-recipes textarea", "baseline:max_new_tokens=16\nsearch:n=2,max_new_tokens=16")

    page.locator("#bench-run").click()
    status = wait_for_status(page, "Done")

    assert "4 of 4 attempts stored" in status
    table = page.locator("#bench-table").inner_text()
    assert "baseline(max_new_tokens=16)" in table
    assert "search(n=2, max_new_tokens=16)" in table
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 4")
    assert page_errors == []  # Plotly reports a figure it cannot draw as a page error
    run_id = int(status.split("run #")[1].split()[0])
    stored = lab.store.run_attempts(run_id)
    assert len(stored) == 4

    page.locator("#bench-export-attempts").click()
    link = page.locator("#bench-download a").first
    link.wait_for(timeout=30_000)
    with urllib.request.urlopen(link.get_attribute("href")) as response:
        exported = response.read().decode("utf-8")
    rows = read_export(exported, "csv")
    assert [row["attempt_id"] for row in rows] == [attempt.id for attempt in stored]
    assert f"run-{run_id}-attempts" in page.locator("#bench-download").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "benchmark.png"), full_page=True)


def test_stop_then_resume(bench_page, launched_app):
    page = bench_page
    _, lab = launched_app
    # Six attempts of up to 48 tokens, so that the run is still going when Stop arrives.
    type_value(page, "#bench-count input", "6")
    type_value(page, "#bench-recipes textarea", "search:n=2,max_new_tokens=48")

    page.locator("#bench-run").click()
    wait_for_status(page, "1 of 6 attempts stored")
    page.locator("#bench-stop").click()
    status = wait_for_status(page, "Stopped")
    run_id = int(status.split("run #")[1].split()[0])
    stopped = [a.item for a in lab.store.run_attempts(run_id) if a.item]

    assert lab.store.get_run(run_id).status == "cancelled"
    assert 1 <= len(stopped) < 6

    page.locator("#bench-resume").click()
    status = wait_for_status(page, "Done")
    items = [a.item for a in lab.store.run_attempts(run_id) if a.item]

    assert "6 of 6 attempts stored" in status
    assert sorted(items) == sorted(set(items))
    assert set(stopped) <= set(items)
    assert lab.store.get_run(run_id).status == "finished"


def test_upload_reports_bad_lines(bench_page, tmp_path):
    page = bench_page
    path = tmp_path / "questions.jsonl"
    path.write_text('{"question": "What is 2 + 2?", "answer": 4}\n{"question": "no answer"}\nnot json\n'
                    '{"question": "What is 3 * 3?", "answer": "9", "id": "nine"}\n', encoding="utf-8")

    page.get_by_text("JSONL file").click()
    page.locator("#bench-file input[type=file]").set_input_files(str(path))
    page.wait_for_function("document.querySelector('#bench-file-report').innerText.includes('questions')")
    report = page.locator("#bench-file-report").inner_text()

    assert "2 questions" in report
    assert "line 2" in report
    assert "line 3" in report
