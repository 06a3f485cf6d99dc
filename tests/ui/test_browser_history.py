"""The History screen in Debian's Chromium: filter, list runs, re-score and re-run a stored attempt."""

import re
from pathlib import Path

import pytest

from lrm_lab.service.compare import CompareRequest, run_comparison
from lrm_lab.tasks.question import Question

pytestmark = [pytest.mark.model, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
QUESTION = Question(text="What is 12 + 30?", reference="42", source="typed")
SEARCH_RECIPE = "search(n=2, max_new_tokens=16)"


@pytest.fixture(scope="module")
def stored_run(launched_app):
    """A comparison on the embedded model: baseline and search(n=2), 16 new tokens each."""
    _, lab = launched_app
    options = {"baseline": {"max_new_tokens": 16}, "search": {"n": 2, "max_new_tokens": 16}}
    final = list(run_comparison(CompareRequest(QUESTION, ("baseline", "search"), options, seed=5), lab.model,
                                lab.store))[-1]
    return final.run_id, {name: column.attempt_id for name, column in final.columns.items()}


@pytest.fixture
def page(browser, launched_app, stored_run):
    url, _ = launched_app
    opened = browser.new_page(viewport={"width": 1400, "height": 2400})
    opened.goto(url)
    opened.wait_for_selector("#run-button")
    opened.get_by_role("tab", name="History").click()
    wait_for_text(opened, "#history-status", "attempts shown")
    yield opened
    opened.close()


def wait_for_text(page, selector: str, text: str, timeout: int = 30_000):
    page.wait_for_function(
        "([selector, text]) => document.querySelector(selector).innerText.includes(text)",
        arg=[selector, text], timeout=timeout,
    )


def id_cell(page, table: str, identifier: int):
    """The cell of ``table``'s id column (the first) whose text is ``identifier``."""
    cells = page.locator(f"#{table} [role=gridcell][data-col='0']")
    return cells.filter(has_text=re.compile(rf"^\s*{identifier}\s*$")).first


def fill(page, elem_id: str, value: str):
    page.locator(f"#{elem_id} textarea, #{elem_id} input").first.fill(value)


def test_filter_by_recipe_and_date(page, launched_app, stored_run):
    _, lab = launched_app
    _, attempts = stored_run
    day = lab.store.get_attempt(attempts["search"]).created_at.date().isoformat()

    page.locator("#history-recipe input").click()
    page.get_by_role("option", name=SEARCH_RECIPE, exact=True).click()
    fill(page, "history-since", day)
    fill(page, "history-until", day)
    expected = len(lab.store.list_attempts(limit=1000, recipe=SEARCH_RECIPE))
    page.click("#history-refresh")
    wait_for_text(page, "#history-status", f"attempts shown: {expected} · filters: recipe {SEARCH_RECIPE}, from {day}")

    texts = [text.strip() for text in page.locator("#history-table [role=gridcell]").all_inner_texts()]
    assert [text for text in texts if text.startswith(("baseline", "search"))] == ["search", SEARCH_RECIPE] * expected


def test_bad_date_shows_message(page):
    fill(page, "history-since", "2025-13-01")
    page.click("#history-refresh")
    wait_for_text(page, "#history-status", "Invalid filter")
    assert "YYYY-MM-DD" in page.locator("#history-status").inner_text()


def test_rescore_run_from_runs_table(page, stored_run):
    run_id, _ = stored_run
    id_cell(page, "runs-table", run_id).click()
    page.wait_for_function(
        "(run) => document.querySelector('#history-run textarea, #history-run input').value === String(run)",
        arg=run_id, timeout=30_000,
    )
    wait_for_text(page, "#history-status", f"attempts shown: 2 · filters: run {run_id}")
    page.click("#rescore-run-button")
    wait_for_text(page, "#rescore-summary", f"Re-scored run #{run_id}")

    assert "2 of 2 attempts re-scored" in page.locator("#rescore-summary").inner_text()
    attempts = page.locator("#rescore-table [role=gridcell]").all_inner_texts()
    assert "baseline" in attempts
    assert "search" in attempts


def test_rerun_and_rescore_opened_attempt(page, launched_app, stored_run):
    _, lab = launched_app
    _, attempts = stored_run
    baseline_id = attempts["baseline"]
    fill(page, "history-run", "")
    page.click("#history-refresh")
    id_cell(page, "history-table", baseline_id).click()
    wait_for_text(page, "#attempt-header", f"Attempt #{baseline_id}")

    page.click("#rescore-button")
    wait_for_text(page, "#rescore-summary", "Re-scored the attempt")
    assert "1 of 1 attempts re-scored" in page.locator("#rescore-summary").inner_text()

    page.click("#rerun-button")
    wait_for_text(page, "#rerun-result", "Same answer", timeout=120_000)
    result = page.locator("#rerun-result").inner_text()
    assert f"before (attempt #{baseline_id})" in result
    assert "Same answer: yes" in result  # greedy decoding on the same model and machine repeats itself

    rerun = lab.store.list_attempts(limit=1)[0]
    assert lab.store.get_attempt(rerun.id).run.settings["rerun_of"] == baseline_id
    assert lab.store.get_attempt(rerun.id).trace == lab.store.get_attempt(baseline_id).trace
    assert page.locator("#rerun-trace textarea").input_value() == lab.store.get_attempt(rerun.id).trace

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "history.png"), full_page=True)


def test_rerun_unknown_attempt_shows_message(page):
    field = page.get_by_label("Attempt id (or click a row)")
    field.fill("999999")
    page.click("#rerun-button")
    wait_for_text(page, "#rerun-result", "Not re-run")
    assert "No attempt with id 999999" in page.locator("#rerun-result").inner_text()
