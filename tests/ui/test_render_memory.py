"""The Markdown of an opened memory and of a mark-right result: user and model text shows as written."""

from lrm_lab.ui.render import marked_markdown, memory_markdown

MEMORY = {
    "id": 4, "created_at": "2026-12-05T01:02:03.456+00:00", "namespace": "model:Qwen/Qwen2.5-0.5B", "source": "marked",
    "source_label": "marked right by a user", "model_id": "Qwen/Qwen2.5-0.5B", "attempt_id": 17, "run_id": 3,
    "retrievals": 2, "last_retrieved_at": "2026-12-06T10:00:00+00:00", "trace": "...",
    "question": "<img src=x onerror=alert(1)> **bold** [link](http://example.com)", "answer": "`13`",
}


def test_memory_markdown_names_origin():
    text = memory_markdown(MEMORY)
    assert "**Memory #4**" in text
    assert "attempt #17 in run #3" in text
    assert "marked right by a user" in text
    assert "retrieved 2 times, last 2026-12-06T10:00:00" in text


def test_memory_markdown_escapes_text():
    text = memory_markdown(MEMORY)
    assert "<img" not in text
    assert "&lt;img src=x onerror=alert\\(1\\)&gt; \\*\\*bold\\*\\* \\[link\\]\\(http://example\\.com\\)" in text
    assert "\\`13\\`" in text


def test_memory_markdown_without_attempt():
    text = memory_markdown(MEMORY | {"attempt_id": None, "run_id": None, "last_retrieved_at": None})
    assert "**From:** no stored attempt" in text
    assert "last never" in text


def test_marked_markdown_new_and_existing():
    assert marked_markdown(MEMORY | {"created": True}).startswith("**Written to memory** as #4")
    assert marked_markdown(MEMORY | {"created": False}).startswith("**Already in memory** as #4")
