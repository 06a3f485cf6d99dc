"""The Compare screen in Debian's Chromium, driven by Playwright: run, read, stop, reopen."""

import re
from pathlib import Path

import pytest
from browser_tools import type_value

pytestmark = [pytest.mark.model, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def set_option(page, technique: str, option: str, value: str):
    """Type an option value and wait until it sticks.

    A value typed just after the page loads or an accordion first opens can be reset to its
    default by the page's own initialisation, so the value is typed again until it stays.
    """
    selector = f"#option-{technique}-{option} input"
    if not page.locator(selector).first.is_visible():  # open the technique's options accordion first
        page.get_by_text(f"{technique.capitalize()} options").click()
    type_value(page, selector, value)


def status_text(page) -> str:
    return page.locator("#compare-status").inner_text()


def test_comparison_from_page(page):
    set_option(page, "baseline", "max_new_tokens", "40")
    set_option(page, "search", "max_new_tokens", "40")
    set_option(page, "search", "n", "3")
    page.click("#run-button")
    page.wait_for_function(
        "document.querySelector('#compare-status').innerText.includes('Done')", timeout=180_000
    )

    baseline = page.locator("#result-baseline").inner_text()
    search = page.locator("#result-search").inner_text()
    assert "Tokens:" in baseline
    assert "Stored as attempt" in baseline
    assert "Tokens:" in search
    assert page.locator("#details-search table.candidates tr.chosen").count() == 1
    assert page.locator("#details-search table.candidates tbody tr").count() == 3
    tokens = [int(cell) for cell in page.locator("#details-search table.candidates tbody td:nth-child(5)").all_inner_texts()]
    assert all(0 < count <= 40 for count in tokens)
    assert page.locator("#trace-baseline textarea").input_value().strip()
    assert "Reference answer" in page.locator("#question-view").inner_text()
    assert "device: cpu" in page.locator("#model-view").inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)


def test_stop_ends_running_comparison(page):
    set_option(page, "baseline", "max_new_tokens", "2000")
    page.get_by_label("Search", exact=True).uncheck()
    page.click("#run-button")
    page.wait_for_function(
        "document.querySelector('#trace-baseline textarea').value.length > 0", timeout=120_000
    )
    page.click("#stop-button")
    page.wait_for_function(
        "document.querySelector('#compare-status').innerText.includes('Stopped')", timeout=30_000
    )
    assert "cancelled" in page.locator("#result-baseline").inner_text()


def test_bad_settings_show_message(page):
    page.locator("#compare-status")  # present before any run
    editor = page.locator(".cm-content").first
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("{not json")
    page.click("#run-button")
    page.wait_for_function(
        "document.querySelector('#compare-status').innerText.includes('Not run')", timeout=30_000
    )
    assert "JSON" in status_text(page)


def test_history_reopens_attempt(page, launched_app):
    _, lab = launched_app
    newest = lab.store.list_attempts(limit=1)
    assert newest, "run the comparison test first: history needs a stored attempt"

    page.get_by_role("tab", name="History").click()
    # Gradio 6 draws the visible rows as role=gridcell elements beside a hidden sizing table.
    id_cell = page.locator("#history-table [role=gridcell]").filter(has_text=re.compile(rf"^\s*{newest[0].id}\s*$"))
    id_cell.first.click()
    page.wait_for_function("document.querySelector('#attempt-header').innerText.includes('Attempt #')", timeout=30_000)

    header = page.locator("#attempt-header").inner_text()
    assert f"Attempt #{newest[0].id}" in header
    stored = lab.store.get_attempt(newest[0].id)
    assert page.locator("#attempt-trace textarea").input_value() == stored.trace
