"""Turn service values into the Markdown and HTML that the page shows. Pure functions, no Gradio."""

from __future__ import annotations

import html
import re

from lrm_lab.models.base import ModelInfo
from lrm_lab.service.compare import ColumnState
from lrm_lab.tasks.question import Question

VERDICT_HELP = {
    "correct": "matches the reference answer",
    "wrong": "an answer was found and it does not match the reference",
    "unparsed": "no answer could be extracted from the output (not counted as wrong)",
    "error": "generation or scoring failed",
    "unverified": "no reference answer to check against",
    "cancelled": "stopped before it finished",
}


VERDICT_LEGEND = "**Verdicts:** " + " · ".join(f"`{verdict}` {meaning}" for verdict, meaning in VERDICT_HELP.items())


def model_markdown(info: ModelInfo | None, error: str | None = None) -> str:
    """Describe the loaded model, device and dtype, with a failed load's error above it."""
    if info is None:
        text = "**Model:** none loaded. Pick one above." if error else "**Model:** loading the embedded model (about 20 s on a CPU)…"
    else:
        millions = info.parameters / 1e6
        text = (
            f"**Model:** {info.display_name} · **device:** `{info.device}` · **dtype:** `{info.dtype}` · "
            f"{millions:,.0f}M parameters · loaded in {info.load_seconds:.1f} s"
        )
        if info.revision:
            text += f" · revision `{info.revision}`"
        for note in info.notes:
            text += f"\n\n_{note}_"
    if error:
        text = f"**Could not load the model:** {error}\n\n{text}"
    return text


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")


def escape_markdown(text: str) -> str:
    """Escape HTML and Markdown syntax, so that user or model text shows exactly as written."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def question_markdown(question: Question) -> str:
    if question.source == "reasoning_gym":
        origin = f"reasoning-gym `{question.family}`, seed {question.seed}, settings `{question.settings}`"
    else:
        origin = "typed by you"
    reference = question.reference if question.reference is not None else "none (verdicts will be unverified)"
    quoted = "\n".join(f"> {escape_markdown(line)}" if line else ">" for line in question.text.splitlines())
    return (f"**Question** ({origin})\n\n{quoted}\n\n**Reference answer** (used for the verdicts; no technique sees it "
            f"except search's oracle verifier): {escape_markdown(reference)}")


def verdict_badge(verdict: str) -> str:
    title = html.escape(VERDICT_HELP.get(verdict, verdict))
    return f'<span class="verdict verdict-{html.escape(verdict)}" title="{title}">{html.escape(verdict)}</span>'


def result_html(column: ColumnState) -> str:
    """The answer, verdict, tokens and seconds of a column, or its status while it runs."""
    result = column.result
    if result is None:
        status = {"waiting": "waiting", "running": f"running, {column.fraction:.0%}"}.get(column.status, column.status)
        return f'<div class="result pending">{html.escape(status)}</div>'
    answer = html.escape(result.answer) if result.answer is not None else "<em>none extracted</em>"
    rows = [
        f"<b>Answer:</b> <code>{answer}</code> {verdict_badge(str(result.verdict))}",
        f"<b>Tokens:</b> {result.completion_tokens}{_tokens_note(result.details)} · <b>Seconds:</b> {result.seconds:.1f}",
    ]
    if column.attempt_id is not None:
        rows.append(f"<b>Stored as attempt</b> #{column.attempt_id}")
    if column.memory_id is not None and column.memory_created:
        rows.append(f'<span class="remembered">Remembered as memory #{column.memory_id}</span>')
    elif column.memory_id is not None:
        rows.append(f'<span class="remembered">Already in memory as #{column.memory_id}</span>')
    if result.error:
        rows.append(f'<span class="error">{html.escape(result.error)}</span>')
    if result.details.get("uses_reference"):
        rows.append('<span class="oracle">Uses the reference answer to choose (oracle verifier)</span>')
    return '<div class="result">' + "<br>".join(rows) + "</div>"


def _tokens_note(details: dict) -> str:
    """Return a note on what a column's token count adds up, when it is more than one answer's tokens."""
    parts = []
    if "train_loss" in details:
        parts.append("variations and the answers before and after adapting")
    if "candidates" in details:
        parts.append("all samples")
    return f" ({'; '.join(parts)})" if parts else ""


def details_html(column: ColumnState) -> str:
    """Technique-specific details: the memories used, and for search every candidate with its score.

    TTT's details have a view of their own, ttt_html.
    """
    if column.result is None:
        if not column.candidates:
            return ""
        items = "".join(
            f"<li><b>sample {i + 1}:</b> {html.escape(text[-160:])}</li>" for i, text in enumerate(column.candidates)
        )
        return f'<ul class="live-candidates">{items}</ul>'
    details = column.result.details
    memory = memory_html(details["memory"]) if "memory" in details else ""
    if "candidates" not in details:
        return memory
    return memory + candidates_html(details)


def memory_html(memory: dict) -> str:
    """The memories shown to the model: similarity, answer, question and a link to the attempt each came from."""
    mode = " · clean mode: memories of this same question are skipped" if memory["clean"] else ""
    header = (f"<p><b>Memory</b> · namespace <code>{html.escape(memory['namespace'])}</code> · up to "
              f"{memory['k']} with similarity ≥ {memory['threshold']:g}{mode}</p>")
    if not memory["hits"]:
        return header + "<p><em>No memory was similar enough; the model answered without worked examples.</em></p>"
    rows = []
    for hit in memory["hits"]:
        source = "marked right by a user" if hit["source"] == "marked" else "verified"
        origin = (f'<a href="?attempt={hit["attempt_id"]}" target="_blank">attempt #{hit["attempt_id"]}</a>'
                  if hit["attempt_id"] is not None else "deleted attempt")
        rows.append(
            f"<tr><td>#{hit['id']}</td><td>{hit['similarity']:.3f}</td><td><code>{html.escape(hit['answer'])}</code>"
            f"</td><td>{source}</td><td>{origin}</td><td class=\"snippet\">{html.escape(hit['question'][:160])}</td></tr>"
        )
    return header + (
        '<table class="memories"><thead><tr><th>memory</th><th>similarity</th><th>answer</th><th>source</th>'
        f"<th>from</th><th>question</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def candidates_html(details: dict) -> str:
    """Search's candidates with their answers, verdicts and scores, the chosen one marked."""
    header = (
        f"<p><b>{html.escape(details['strategy_label'])}</b> over {details['n']} samples at temperature "
        f"{details['temperature']}. Any sample correct: <b>{'yes' if details['any_correct'] else 'no'}</b> "
        f"(graded afterwards with the reference). Unparsed samples: {details['unparsed_candidates']}.</p>"
    )
    score_name = {"self_consistency": "votes", "best_of_n_oracle": "oracle score"}.get(
        details["strategy"], "mean log-prob"
    )
    rows = []
    for candidate in details["candidates"]:
        answer = html.escape(candidate["answer"]) if candidate["answer"] is not None else "<em>none</em>"
        marker = "✔ chosen" if candidate["chosen"] else ""
        snippet = html.escape(candidate["text"][-200:])
        rows.append(
            f'<tr class="{"chosen" if candidate["chosen"] else ""}"><td>{candidate["index"] + 1}</td>'
            f"<td><code>{answer}</code></td><td>{verdict_badge(candidate['verdict'])}</td>"
            f"<td>{candidate['score']}</td><td>{candidate['completion_tokens']}</td><td>{marker}</td>"
            f'<td class="snippet">…{snippet}</td></tr>'
        )
    table = (
        f'<table class="candidates"><thead><tr><th>#</th><th>answer</th><th>verdict</th><th>{score_name}</th>'
        f"<th>tokens</th><th></th><th>end of the sample</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return header + table


def memory_markdown(memory: dict) -> str:
    """Describe one memory: where it came from, its question and answer, and how often it was retrieved."""
    if memory["attempt_id"] is not None:
        run = f"run #{memory['run_id']}" if memory.get("run_id") is not None else "a deleted run"
        origin = f"attempt #{memory['attempt_id']} in {run}; open it in the History tab by its attempt id"
    else:
        origin = "no stored attempt"
    last = memory["last_retrieved_at"][:19] if memory["last_retrieved_at"] else "never"
    return (
        f"**Memory #{memory['id']}** · namespace {escape_markdown(memory['namespace'])} · "
        f"{escape_markdown(memory.get('source_label') or memory['source'])} · "
        f"model {escape_markdown(memory['model_id'])} · written {memory['created_at'][:19]} UTC\n\n"
        f"**From:** {origin} · retrieved {memory['retrievals']} times, last {last}\n\n"
        f"**Question:** {escape_markdown(memory['question'])}\n\n"
        f"**Answer:** {escape_markdown(memory['answer'])}"
    )


def marked_markdown(memory: dict) -> str:
    """Say which memory a mark-right wrote, or that the same solution was already stored."""
    where = f"namespace {escape_markdown(memory['namespace'])}"
    if memory["created"]:
        return f"**Written to memory** as #{memory['id']} in {where}, marked right by a user."
    return f"**Already in memory** as #{memory['id']} in {where}: the same question with the same answer."


VARIATION_SOURCES = {
    "siblings": "reasoning-gym siblings: questions of the same family and settings with other seeds, "
                "answered by the generator",
    "memory": "nearest memories: the worked examples that the memory stage retrieved for this question",
    "self-generated": "self-generated variants: problems the model wrote, each labelled by the model's own "
                      "majority vote (more than half of its sampled answers agree)",
}


def ttt_html(details: dict, answer: str | None, verdict: str, tokens: int) -> str:
    """Render test-time training's view: the variations it trained on, what was dropped, the answers before and after.

    ``answer``, ``verdict`` and ``tokens`` are the attempt's own: the adapted model's answer and
    verdict, and the tokens of the whole attempt.
    """
    return ttt_summary_html(details) + before_after_html(details, answer, verdict, tokens) + variations_html(details)


def ttt_summary_html(details: dict) -> str:
    """Render one line on the training run, or a plain statement that the model was not adapted, and why."""
    losses = details.get("train_loss") or []
    if details.get("not_adapted"):
        return f'<p class="not-adapted"><b>Not adapted.</b> {html.escape(details["not_adapted"])}</p>'
    if not details.get("adapted"):
        steps = f"after {_count(len(losses), 'training step')}" if losses else "before training"
        return f'<p class="not-adapted"><b>Not adapted:</b> stopped {steps}. The adapter was removed.</p>'
    seconds = details.get("train_seconds")
    timing = f" in {seconds:.1f} s" if seconds is not None else ""
    curve = f" (loss {losses[0]:.3f} → {losses[-1]:.3f})" if losses else ""
    steps = _count(len(losses), "training step")
    return (f"<p><b>Adapted:</b> {steps} of a LoRA adapter{timing}{curve}. The adapted model answered, then the "
            "adapter was deleted.</p>")


def variations_html(details: dict) -> str:
    """Render the variations trained on, labelled by source, and the candidates dropped with the reason."""
    variations = details.get("variation_list") or []
    sources = [part for part in (details.get("variation_source") or "none").split("+") if part != "none"]
    if variations:
        described = "; ".join(html.escape(VARIATION_SOURCES.get(source, source)) for source in sources)
        text = f"<p><b>Trained on {_count(len(variations), 'variation')}</b> from {described}.</p>"
        rows = "".join(
            f"<tr><td>{index}</td><td>{html.escape(item['source'])}<br><small>{html.escape(item['note'])}</small></td>"
            f"<td><code>{html.escape(item['answer'])}</code></td>"
            f'<td class="snippet">{html.escape(item["question"])}</td></tr>'
            for index, item in enumerate(variations, start=1)
        )
        text += ('<table class="variations"><thead><tr><th>#</th><th>source</th><th>answer</th><th>question</th>'
                 f"</tr></thead><tbody>{rows}</tbody></table>")
    elif "variation_list" in details:
        text = "<p><b>No variation was found</b> to train on.</p>"
    else:
        text = "<p><b>Stopped before any variation was built.</b></p>"
    tokens = details.get("variation_tokens") or 0
    if tokens:
        text += f"<p>Writing and labelling the variants took {tokens} generated tokens.</p>"
    dropped = details.get("variations_dropped") or []
    if dropped:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in dropped)
        text += f'<p><b>Dropped {_count(len(dropped), "candidate")}:</b></p><ul class="dropped">{items}</ul>'
    return text


def before_after_html(details: dict, answer: str | None, verdict: str, tokens: int) -> str:
    """Render the base model's answer and verdict beside the adapted model's, with the trace before adapting."""
    if "answer_before" not in details:
        return ""
    before_tokens = details.get("tokens_before", 0)
    rows = [_answer_row("before adapting", details["answer_before"], details["verdict_before"], before_tokens)]
    if details.get("adapted"):
        # Attempts stored before tokens_after existed: the total less the variants and the answer before.
        after_tokens = details.get("tokens_after", tokens - details.get("variation_tokens", 0) - before_tokens)
        rows.append(_answer_row("after adapting", answer, verdict, after_tokens))
        changed = "yes" if answer != details["answer_before"] else "no"
        note = f"<p>Answer changed by adapting: <b>{changed}</b></p>"
    else:
        reason = ("not adapted: the column's answer is the one before adapting" if details.get("not_adapted")
                  else "stopped before the adapted model answered")
        rows.append(f"<tr><td>after adapting</td><td colspan='3'><em>{reason}</em></td></tr>")
        note = ""
    table = ('<table class="before-after"><thead><tr><th></th><th>answer</th><th>verdict</th><th>tokens</th></tr>'
             f"</thead><tbody>{''.join(rows)}</tbody></table>")
    trace = (f"<details><summary>Trace before adapting</summary><pre class='trace-before'>"
             f"{html.escape(details.get('trace_before') or '')}</pre></details>")
    return table + note + trace


def _answer_row(label: str, answer: str | None, verdict: str, tokens: int) -> str:
    answer_cell = f"<code>{html.escape(answer)}</code>" if answer is not None else "<em>none extracted</em>"
    return f"<tr><td>{label}</td><td>{answer_cell}</td><td>{verdict_badge(verdict)}</td><td>{tokens}</td></tr>"


def _count(number: int, noun: str) -> str:
    """Write a count with its noun, such as "1 variation" and "2 variations"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
