"""The Memory screen in Debian's Chromium: browse a namespace, open and delete an entry; mark an answer right."""

import json
import re
import urllib.request
from pathlib import Path

import pytest
from browser_tools import type_value
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from lrm_lab.models.fake import FakeBackend
from lrm_lab.service.compare import CompareRequest, run_comparison
from lrm_lab.service.memory import MemoryBank, MemorySettings
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
        "([selector, text]) => (document.querySelector(selector)?.innerText || '').includes(text)",
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


def test_memory_column_links_to_its_source(page, launched_app):
    url, lab = launched_app
    # A solved attempt of this question, remembered in a namespace of its own.
    question = Question(text="What is 40 + 2?", reference="42", source="typed")
    solved = list(run_comparison(
        CompareRequest(question, ("memory",), memory=MemorySettings("browser-compare")),
        FakeBackend(["40 plus 2 is 42.\nAnswer: 42"]), lab.store,
    ))[-1].columns["memory"]
    assert solved.memory_id is not None

    # On the Compare tab: the typed question, the Memory column alone, the same namespace.
    page.locator("#question-source").get_by_label("typed question").check()
    type_value(page, "#typed-text textarea", question.text)
    type_value(page, "#typed-reference textarea, #typed-reference input", "42")
    for title in ("Baseline", "Search"):
        page.locator("#compare-techniques").get_by_label(title, exact=True).uncheck()
    page.get_by_text("Memory store").click()
    type_value(page, "#compare-namespace textarea, #compare-namespace input", "browser-compare")
    page.get_by_text("Baseline options").click()
    type_value(page, "#option-baseline-max_new_tokens input", "24")
    page.click("#run-button")
    page.wait_for_function("document.querySelector('#compare-status').innerText.includes('Done')", timeout=180_000)

    details = page.locator("#details-memory")
    assert "browser-compare" in details.inner_text()
    assert f"#{solved.memory_id}" in details.locator("table.memories").inner_text()
    link = details.locator(f'a[href="?attempt={solved.attempt_id}"]')
    assert link.count() == 1

    # Following the link opens the History tab at the attempt the memory came from.
    page.goto(url + f"?attempt={solved.attempt_id}")
    wait_for_text(page, "#attempt-header", f"Attempt #{solved.attempt_id}")
    assert page.get_by_role("tab", name="History").get_attribute("aria-selected") == "true"
