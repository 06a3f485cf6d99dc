"""The Memory screen in Debian's Chromium: browse a namespace, open and delete an entry; mark an answer right."""

import json
import re
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from lrm_lab.models.fake import FakeBackend
from lrm_lab.service.compare import CompareRequest, run_comparison
from lrm_lab.service.memory import MemoryBank
from lrm_lab.tasks.question import Question

pytestmark = [pytest.mark.model, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
NAMESPACE = "browser-memory"


@pytest.fixture(scope="module")
def memories(launched_app):
    """Two memories in NAMESPACE, the second with a question full of Markdown and HTML syntax."""
    _, lab = launched_app
    bank = MemoryBank(lab.store, NAMESPACE)
    ids = []
    for question, answer in (("What is 3 + 4?", "7"), ("Is <b>*this*</b> bold? [link](x)", "no")):
        memory_id, _ = lab.store.add_memory(
            namespace=NAMESPACE, question_text=question, trace=f"Thinking.\nAnswer: {answer}", answer=answer,
            source="verified", model_id="fake", attempt_id=None, question_id=None,
            embedding_model=bank.embedder.name, embedding=bank.embedder.encode([question])[0].tobytes(),
        )
        ids.append(memory_id)
    return ids


@pytest.fixture
def page(browser, launched_app):
    url, _ = launched_app
    opened = browser.new_page(viewport={"width": 1400, "height": 2400})
    opened.goto(url)
    opened.wait_for_selector("#run-button")
    yield opened
    opened.close()


def wait_for_text(page, selector: str, text: str, timeout: int = 30_000):
    page.wait_for_function(
        "([selector, text]) => document.querySelector(selector).innerText.includes(text)",
        arg=[selector, text], timeout=timeout,
    )


def id_cells(page, table: str, identifier: int):
    """The cells of ``table``'s id column (the first) whose text is ``identifier``."""
    cells = page.locator(f"#{table} [role=gridcell][data-col='0']")
    return cells.filter(has_text=re.compile(rf"^\s*{identifier}\s*$"))


def show_namespace(page, namespace: str):
    """Type the namespace and show it; retype until the status names it, since page load may reset the box."""
    field = page.locator("#memory-namespace textarea, #memory-namespace input").first
    for _ in range(10):
        field.fill(namespace)
        page.click("#memory-refresh")
        try:
            wait_for_text(page, "#memory-status", f"Namespace {namespace}", timeout=3_000)
            return
        except PlaywrightTimeout:
            continue
    wait_for_text(page, "#memory-status", f"Namespace {namespace}")


def test_browse_open_and_delete(page, launched_app, memories):
    _, lab = launched_app
    first, second = memories
    page.get_by_role("tab", name="Memory").click()
    show_namespace(page, NAMESPACE)
    wait_for_text(page, "#memory-status", f"Namespace {NAMESPACE}: 2 memories · shown: 2")
    assert id_cells(page, "memory-table", first).count() == 1
    assert "verified" in page.locator("#memory-table [role=gridcell]").all_inner_texts()

    # Open the entry with Markdown in its question: it shows as written, never as bold text or a link.
    id_cells(page, "memory-table", second).first.click()
    wait_for_text(page, "#memory-detail", f"Memory #{second}")
    detail = page.locator("#memory-detail")
    assert "Is <b>*this*</b> bold? [link](x)" in detail.inner_text()
    assert detail.locator("a").count() == 0
    assert page.locator("#memory-trace textarea").input_value() == "Thinking.\nAnswer: no"

    page.click("#memory-delete")
    wait_for_text(page, "#memory-message", f"Deleted memory #{second}")
    wait_for_text(page, "#memory-status", f"Namespace {NAMESPACE}: 1 memory · shown: 1")
    assert id_cells(page, "memory-table", second).count() == 0
    assert id_cells(page, "memory-table", first).count() == 1
    assert lab.store.get_memory(second) is None

    # The same id again: a message, and nothing else changes.
    page.locator("#memory-id input").fill(str(second))
    page.click("#memory-delete")
    wait_for_text(page, "#memory-message", f"No memory with id {second}")
    assert lab.store.get_memory(first) is not None

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "memory.png"), full_page=True)


def test_export_and_unconfirmed_reset(page, launched_app, memories):
    _, lab = launched_app
    page.get_by_role("tab", name="Memory").click()
    show_namespace(page, NAMESPACE)
    page.get_by_text("Export or reset the namespace").click()

    page.click("#memory-export")
    link = page.locator("#memory-download a").first
    link.wait_for(timeout=30_000)
    with urllib.request.urlopen(link.get_attribute("href")) as response:
        exported = [json.loads(line) for line in response.read().decode("utf-8").splitlines()]
    assert [memory["id"] for memory in exported] == [memory.id for memory in lab.store.list_memories(NAMESPACE)][::-1]
    assert f"memory-{NAMESPACE}" in page.locator("#memory-download").inner_text()

    page.click("#memory-reset")
    wait_for_text(page, "#memory-manage-message", "Nothing was deleted")
    assert lab.store.count_memories(NAMESPACE) >= 1


def test_mark_unverified_answer_right(page, launched_app):
    _, lab = launched_app
    question = Question(text="Name a prime number between 20 and 24.", reference=None, source="typed")
    final = list(run_comparison(CompareRequest(question, ("baseline",)), FakeBackend(["Answer: 23"]), lab.store))[-1]
    attempt_id = final.columns["baseline"].attempt_id

    page.get_by_role("tab", name="History").click()
    wait_for_text(page, "#history-status", "attempts shown")
    page.get_by_label("Attempt id (or click a row)").fill(str(attempt_id))
    page.get_by_role("button", name="Open attempt").click()
    wait_for_text(page, "#attempt-header", f"Attempt #{attempt_id}")
    page.wait_for_selector("#mark-button", state="visible")
    assert page.locator("#mark-namespace textarea, #mark-namespace input").first.input_value() == "model:fake"

    page.click("#mark-button")
    wait_for_text(page, "#mark-result", "Written to memory")
    memory = lab.store.memories_of_attempt(attempt_id)[0]
    assert memory.source == "marked"
    assert memory.namespace == "model:fake"
    assert f"#{memory.id}" in page.locator("#mark-result").inner_text()
