"""GFlowNet in Debian's Chromium: train an adapter in the Train tab, then sample with it in a Compare column."""

import re
from pathlib import Path

import pytest
from browser_tools import type_value

pytestmark = [pytest.mark.model, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ADAPTER = "browser-adapter"
TRAIN_TIMEOUT_MS = 900_000  # one step of 2 chains takes about a minute on a busy 2-core CPU


def wait_for_text(page, selector: str, text: str, timeout: int = 30_000):
    page.wait_for_function(
        "([selector, text]) => document.querySelector(selector).innerText.includes(text)",
        arg=[selector, text], timeout=timeout,
    )


def open_train_tab(page):
    page.get_by_role("tab", name="Train").click()
    page.wait_for_selector("#train-button")


def shrink_training(page):
    """Train one step of 2 chains of up to 16 tokens on one problem, so that it takes about a minute."""
    type_value(page, "#train-steps input", "1")
    type_value(page, "#train-problems input", "1")
    type_value(page, "#train-batch_size input", "2")
    type_value(page, "#train-max_new_tokens input", "16")


def set_option(page, accordion: str, element_id: str, value: str):
    """Open the technique's options accordion if needed, then type the value until it sticks."""
    selector = f"#{element_id} input"
    if not page.locator(selector).first.is_visible():
        page.get_by_text(accordion, exact=True).click()
    type_value(page, selector, value)


def test_train_then_compare(page, launched_app):
    _, lab = launched_app
    open_train_tab(page)
    assert "2-core CPU" in page.locator("#train-cpu-note").inner_text()
    shrink_training(page)
    type_value(page, "#train-name textarea, #train-name input", ADAPTER)
    page.click("#train-button")
    wait_for_text(page, "#train-status", f"Trained {ADAPTER}", timeout=TRAIN_TIMEOUT_MS)

    page.wait_for_selector("#train-plot .js-plotly-plot", timeout=30_000)
    assert page.locator("#train-plot .scatterlayer .point").count() == 3  # one step in each of the three panels
    wait_for_text(page, "#adapters-table", ADAPTER)
    record = lab.store.get_adapter_by_name(ADAPTER)
    assert record.status == "finished"
    assert (lab.adapter_dir / ADAPTER).is_dir()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "train-gflownet.png"), full_page=True)

    page.get_by_role("tab", name="Compare").click()
    for label in ("Baseline", "Memory", "Search"):
        page.get_by_label(label, exact=True).uncheck()
    page.get_by_label("GFlowNet", exact=True).check()
    set_option(page, "GFlowNet options", "option-gflownet-n", "2")
    set_option(page, "GFlowNet options", "option-gflownet-max_new_tokens", "16")
    page.locator("#option-gflownet-adapter input").click()
    page.get_by_role("option", name=re.compile(f"^{ADAPTER} ")).click()
    page.click("#run-button")
    wait_for_text(page, "#compare-status", "Done", timeout=600_000)

    view = page.locator("#gflownet-gflownet")
    assert ADAPTER in view.locator(".gflownet-adapter").inner_text()
    table = view.locator("table.gflownet-compare")
    assert "GFlowNet adapter vs base model, same N, temperature and seed" in table.inner_text()
    headers = table.locator("thead th").all_inner_texts()
    assert headers[1:] == ["GFlowNet adapter", "base model (adapter off)"]
    assert table.locator("tbody tr").count() == 6
    stored = lab.store.get_attempt(lab.store.list_attempts(limit=1)[0].id)
    assert stored.technique == "gflownet"
    assert stored.details["adapter"] == ADAPTER
    assert f"distinct answers\t{stored.details['distinct_answers']}\t{stored.details['base']['distinct_answers']}" in \
        table.inner_text()
    page.screenshot(path=str(ARTIFACTS / "compare-gflownet.png"), full_page=True)


def test_bad_name_stores_nothing(page, launched_app):
    _, lab = launched_app
    before = lab.store.list_adapters()
    open_train_tab(page)
    shrink_training(page)
    type_value(page, "#train-name textarea, #train-name input", "../x")
    page.click("#train-button")
    wait_for_text(page, "#train-status", "Not trained")

    assert "invalid characters" in page.locator("#train-status").inner_text()
    assert lab.store.list_adapters() == before
    assert not (lab.adapter_dir / "x").exists()
    assert not (lab.adapter_dir.parent / "x").exists()
