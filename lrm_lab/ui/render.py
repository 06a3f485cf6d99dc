"""Turn service values into the Markdown and HTML that the page shows. Pure functions, no Gradio."""

from __future__ import annotations

import html
import re

from lrm_lab.models.base import ModelInfo
from lrm_lab.service.compare import ColumnState
from lrm_lab.tasks.question import Question
from lrm_lab.techniques.search import answer_key

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
    if "candidates" in details and "base" in details:
        parts.append("the adapter's samples; the base model's are counted apart")
    elif "candidates" in details:
        parts.append("all samples")
    return f" ({'; '.join(parts)})" if parts else ""


def details_html(column: ColumnState) -> str:
    """Technique-specific details: the memories used, and for search every candidate with its score.

    TTT's and GFlowNet sampling's details have views of their own, ttt_html and gflownet_html.
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
    if "candidates" not in details or "adapter" in details:
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


def adapter_markdown(record) -> str:
    """Describe a stored adapter (an AdapterRecord): base model, status, steps, time, main settings, folder, error."""
    settings = record.settings or {}
    seconds = f" in {record.train_seconds:.0f} s" if record.train_seconds is not None else ""
    planned = f" of {settings['steps']}" if settings.get("steps") else ""
    lines = [(
        f"**Adapter {escape_markdown(record.name)}** · {escape_markdown(record.family or 'no family')} · "
        f"{escape_markdown(record.status)} after {record.steps_done}{planned} steps{seconds} · base model "
        f"{escape_markdown(record.base_model_name)} · created {record.created_at:%Y-%m-%d %H:%M} UTC"
    )]
    if settings:
        listed = ("objective", "problems", "batch_size", "max_new_tokens", "learning_rate", "reward_temperature",
                  "likelihood_weight", "rank", "alpha", "target_modules", "seed")
        lines.append("**Settings:** " + ", ".join(
            f"{name.replace('_', ' ')} {escape_markdown(str(settings[name]))}" for name in listed if name in settings))
    lines.append(f"**Folder:** {escape_markdown(record.path)}")
    if record.error:
        lines.append(f"**Error:** {escape_markdown(record.error)}")
    return "\n\n".join(lines)


GFLOWNET_TABLE_CAPTION = "GFlowNet adapter vs base model, same N, temperature and seed"
GFLOWNET_VOTES = {"majority": "majority vote", "reward_weighted": "reward-weighted vote"}


def gflownet_html(details: dict) -> str:
    """Render GFlowNet sampling's view: the adapter used, its samples beside the base model's, both vote counts.

    Reads the details with ``.get`` throughout, so attempts stored by older versions, or stopped
    before the base model sampled, render what they have.
    """
    if not details.get("adapter"):
        return "<p class='gflownet-adapter'><em>No adapter was switched on: the attempt failed or stopped first.</em></p>"
    return (gflownet_adapter_html(details) + gflownet_table_html(details) + gflownet_votes_html(details)
            + gflownet_samples_html(details))


def gflownet_adapter_html(details: dict) -> str:
    """Render which adapter sampled, how it was trained, and the warnings that qualify the comparison."""
    facts = [f"<b>Adapter:</b> <code>{html.escape(str(details['adapter']))}</code>"]
    if details.get("adapter_family"):
        facts.append(f"trained on {html.escape(str(details['adapter_family']))}")
    if details.get("adapter_steps") is not None:
        facts.append(_count(int(details["adapter_steps"]), "step"))
    if details.get("adapter_objective"):
        facts.append(f"objective <code>{html.escape(str(details['adapter_objective']))}</code>")
    if details.get("adapter_max_new_tokens") is not None:
        facts.append(f"chains of up to {details['adapter_max_new_tokens']} tokens in training")
    text = '<p class="gflownet-adapter">' + " · ".join(facts) + "</p>"
    if details.get("n") is not None:
        aggregation = GFLOWNET_VOTES.get(details.get("aggregation_used") or "", "")
        text += (f"<p>Sampled {_count(int(details['n']), 'chain')} at temperature "
                 f"{html.escape(str(details.get('temperature', '?')))}"
                 + (f"; {html.escape(aggregation)} picks the answer" if aggregation else "") + ".</p>")
    if details.get("seen_in_training"):
        text += ('<p class="seen-in-training"><b>Seen in training:</b> this question was one of the adapter\'s '
                 "training problems, so its samples say little about questions it has not seen. Pick another "
                 "question seed.</p>")
    if details.get("aggregation_note"):
        text += f'<p class="aggregation-note">{html.escape(details["aggregation_note"])}</p>'
    if details.get("family_note"):
        text += f'<p class="seen-in-training"><b>Other family:</b> {html.escape(details["family_note"])}</p>'
    return text


def gflownet_table_html(details: dict) -> str:
    """Render the adapter's and the base model's summaries side by side, or the adapter's alone without a base run."""
    candidates = details.get("candidates") or []
    adapter = _chosen(candidates, details.get("chosen_index"))
    columns = [{
        "answer": adapter.get("answer"), "verdict": adapter.get("verdict"),
        "distinct_answers": details.get("distinct_answers"),
        "distinct_correct_chains": details.get("distinct_correct_chains"),
        "any_correct": details.get("any_correct"), "unparsed_candidates": details.get("unparsed_candidates"),
        "tokens": sum(c.get("completion_tokens") or 0 for c in candidates) if candidates else None,
    }]
    headers = ["GFlowNet adapter"]
    base = details.get("base")
    if isinstance(base, dict):
        columns.append(base)
        headers.append("base model (adapter off)")

    rows = [
        (f"answer ({GFLOWNET_VOTES.get(details.get('aggregation_used') or 'majority', 'vote')})",
         lambda column: _answer_cell(column.get("answer"), column.get("verdict"))),
        ("distinct answers", lambda column: _number_cell(column.get("distinct_answers"))),
        ("distinct correct chains", lambda column: _number_cell(column.get("distinct_correct_chains"))),
        ("any sample correct (pass@N, graded with the reference afterwards)",
         lambda column: _yes_no(column.get("any_correct"))),
        ("unparsed samples", lambda column: _number_cell(column.get("unparsed_candidates"))),
        ("tokens", lambda column: _number_cell(column.get("tokens"))),
    ]

    body = "".join(f"<tr><th>{html.escape(label)}</th>" + "".join(f"<td>{cell(column)}</td>" for column in columns)
                   + "</tr>" for label, cell in rows)
    head = "<tr><th></th>" + "".join(f"<th>{header}</th>" for header in headers) + "</tr>"
    table = (f'<table class="gflownet-compare"><caption>{GFLOWNET_TABLE_CAPTION}</caption><thead>{head}</thead>'
             f"<tbody>{body}</tbody></table>")

    if not isinstance(base, dict):
        table += ("<p class='no-base'>The base model was not sampled: the compare_base option is off, or the "
                  "attempt stopped first.</p>")
    elif base.get("cancelled"):
        table += "<p class='no-base'>Stopped while the base model was sampling: its counts cover cut chains.</p>"
    return table


def gflownet_votes_html(details: dict) -> str:
    """Render how many samples gave each answer, for the adapter and the base model, as a table with bars."""
    adapter_votes = details.get("votes") or {}
    base = details.get("base") if isinstance(details.get("base"), dict) else None
    base_votes = (base or {}).get("votes") or {}
    if not adapter_votes and not base_votes:
        return "<p><b>Answers:</b> <em>no sample gave an answer that could be extracted.</em></p>"
    verdicts = {}
    for candidate in [*(details.get("candidates") or []), *((base or {}).get("candidates") or [])]:
        if candidate.get("answer") is not None:
            verdicts.setdefault(answer_key(candidate["answer"]), candidate.get("verdict"))
    total = details.get("n") or max(sum(adapter_votes.values()), sum(base_votes.values()), 1)
    answers = sorted(set(adapter_votes) | set(base_votes),
                     key=lambda answer: (-(adapter_votes.get(answer, 0) + base_votes.get(answer, 0)), answer))
    rows = []
    for answer in answers:
        verdict = verdicts.get(answer)
        cells = [f"<td><code>{html.escape(answer)}</code></td>",
                 f"<td>{verdict_badge(verdict) if verdict else ''}</td>",
                 f"<td>{_vote_bar(adapter_votes.get(answer, 0), total)}</td>"]
        if base is not None:
            cells.append(f"<td>{_vote_bar(base_votes.get(answer, 0), total)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    base_header = "<th>base model</th>" if base is not None else ""
    return (f"<p><b>Answers of the {total} samples</b> (votes per answer):</p>"
            '<table class="gflownet-votes"><thead><tr><th>answer</th><th>verdict</th><th>GFlowNet adapter</th>'
            f"{base_header}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def gflownet_samples_html(details: dict) -> str:
    """Render every sample of the adapter and of the base model in collapsed tables, the chosen ones marked."""
    parts = []
    base = details.get("base") if isinstance(details.get("base"), dict) else {}
    for label, candidates in (("the adapter", details.get("candidates") or []),
                              ("the base model", base.get("candidates") or [])):
        if not candidates:
            continue
        rows = []
        for candidate in candidates:
            answer = candidate.get("answer")
            answer_cell = f"<code>{html.escape(answer)}</code>" if answer is not None else "<em>none</em>"
            chosen = bool(candidate.get("chosen"))
            rows.append(
                f'<tr class="{"chosen" if chosen else ""}"><td>{int(candidate.get("index", 0)) + 1}</td>'
                f"<td>{answer_cell}</td><td>{verdict_badge(str(candidate.get('verdict', '')))}</td>"
                f"<td>{_number_cell(candidate.get('completion_tokens'))}</td>"
                f"<td>{html.escape(str(candidate.get('finish_reason') or ''))}</td>"
                f"<td>{'✔ chosen' if chosen else ''}</td>"
                f'<td class="snippet">…{html.escape((candidate.get("text") or "")[-200:])}</td></tr>'
            )
        parts.append(
            f"<details><summary>The {_count(len(candidates), 'sample')} from {label}</summary>"
            '<table class="candidates"><thead><tr><th>#</th><th>answer</th><th>verdict</th><th>tokens</th>'
            f"<th>finish</th><th></th><th>end of the sample</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            "</details>"
        )
    return "".join(parts)


def _chosen(candidates: list[dict], index: int | None) -> dict:
    """Return the chosen candidate: the one at ``index``, else the one marked chosen, else an empty dict."""
    for candidate in candidates:
        if candidate.get("index") == index or (index is None and candidate.get("chosen")):
            return candidate
    return {}


def _answer_cell(answer: str | None, verdict: str | None) -> str:
    shown = f"<code>{html.escape(answer)}</code>" if answer is not None else "<em>none extracted</em>"
    return f"{shown} {verdict_badge(verdict)}" if verdict else shown


def _number_cell(value) -> str:
    return "–" if value is None else html.escape(str(value))


def _yes_no(value) -> str:
    if value is None:
        return "–"
    return "<b>yes</b>" if value else "no"


def _vote_bar(count: int, total: int) -> str:
    """Render a vote count with a bar whose length is its share of the samples."""
    share = min(1.0, count / total) if total else 0.0
    return (f'<span class="vote-track"><span class="vote-bar" style="width:{share:.0%}"></span></span> '
            f"<span class='vote-count'>{count}</span>")
