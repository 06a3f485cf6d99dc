"""Fixtures of the browser tests: Debian's Chromium driven by Playwright (never a downloaded browser)."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        if os.environ.get("LRM_LAB_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, launched_app):
    """The Compare tab of the launched app, once the model is shown (a test module may define its own)."""
    url, _ = launched_app
    opened = browser.new_page(viewport={"width": 1400, "height": 1600})
    opened.goto(url)
    opened.wait_for_selector("#run-button")
    opened.wait_for_function("document.querySelector('#model-view').innerText.includes('device')")
    yield opened
    opened.close()
