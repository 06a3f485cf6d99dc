"""A TTT column in Debian's Chromium: variations, loss plot, and answers before and after adapting."""

from pathlib import Path

import pytest
from browser_tools import type_value

pytestmark = [pytest.mark.model, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def set_option(page, accordion: str, element_id: str, value: str):
    """Open the technique's options accordion if needed, then type the value until it sticks."""
    selector = f"#{element_id} input"
    if not page.locator(selector).first.is_visible():
        page.get_by_text(accordion, exact=True).click()
    type_value(page, selector, value)


def test_ttt_column_shows_training(page, launched_app):
    _, lab = launched_app
    for label in ("Baseline", "Memory", "Search"):
        page.get_by_label(label, exact=True).uncheck()
    page.get_by_label("TTT", exact=True).check()
    # Shrunk so that the column takes seconds: two variations, one step, short answers.
    set_option(page, "TTT options", "option-ttt-variations", "2")
    set_option(page, "TTT options", "option-ttt-steps", "1")
    set_option(page, "Baseline options", "option-baseline-max_new_tokens", "16")
    page.click("#run-button")
    page.wait_for_function(
        "document.querySelector('#compare-status').innerText.includes('Done')", timeout=300_000
    )

    view = page.locator("#ttt-ttt")
    variations = view.locator("table.variations tbody tr")
    assert variations.count() == 2
    assert "from reasoning-gym siblings" in view.inner_text()
    assert all("seed " in row for row in variations.all_inner_texts())
    page.wait_for_selector("#plot-ttt .js-plotly-plot", timeout=30_000)  # Plotly draws after the update arrives
    assert page.locator("#plot-ttt .js-plotly-plot").count() == 1
    assert page.locator("#plot-ttt .scatterlayer .point").count() == 1  # one training step, one marker
    rows = view.locator("table.before-after tbody tr").all_inner_texts()
    assert [row.split("\t")[0] for row in rows] == ["before adapting", "after adapting"]

    newest = lab.store.list_attempts(limit=1)[0]
    stored = lab.store.get_attempt(newest.id)
    assert stored.technique == "ttt+baseline"
    assert (stored.details["answer_before"] or "none extracted") in rows[0]
    assert "Adapted:" in view.inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "compare-ttt.png"), full_page=True)
