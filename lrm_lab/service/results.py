"""Benchmark results computed from stored attempts: per-recipe accuracy with intervals, and the grid.

Which attempts count: those stored with an item key (cancelled ones have none). Accuracy is
correct / n, where n counts correct, wrong and unparsed attempts, so an unparsed answer lowers
accuracy but is reported on its own. Attempts with verdict "error" failed for a reason other
than the model's answer; they are reported apart and left out of n.
"""

from __future__ import annotations

from statistics import mean
from typing import Any

from lrm_lab.errors import InputError
from lrm_lab.service.benchmark import MAX_ITEMS, load_plan, parse_item
from lrm_lab.service.stats import wilson_interval
from lrm_lab.store import AttemptSummary, Store
from lrm_lab.techniques.recipe import recipe_json

SCORED_VERDICTS = ("correct", "wrong", "unparsed")
# Every item of the largest benchmark plus as many cancelled attempts, which have no item.
MAX_ATTEMPTS = 2 * MAX_ITEMS


def counted_attempts(store: Store, run_id: int) -> list[AttemptSummary]:
    """Return the run's attempts that belong to a benchmark item, oldest first, without traces."""
    attempts = store.list_attempts(limit=MAX_ATTEMPTS, run_id=run_id)
    return [attempt for attempt in reversed(attempts) if attempt.item is not None]


def summarize_run(store: Store, run_id: int) -> dict[str, Any]:
    """Return {"run_id", "status", "model_id", "done", "total", "rounds", "memory", "recipes": [...]} from the stored rows.

    With more than one round, each recipe also has "by_round": accuracy per round, the retry curve.
    """
    run = store.get_run(run_id)
    if run is None:
        raise InputError(f"No run with id {run_id}.")
    plan = load_plan(store, run_id)
    attempts = counted_attempts(store, run_id)
    memories_used = _memories_used(store, run_id) if any(recipe.reads_memory for recipe in plan.recipes) else {}
    recipes = []
    for recipe in plan.recipes:
        own = [a for a in attempts if a.recipe == recipe.label]
        summary = _recipe_summary(recipe_json(recipe), recipe.uses_reference(), own)
        if plan.rounds > 1:
            summary["by_round"] = [
                _round_summary(index, [a for a in own if parse_item(a.item).round == index], memories_used)
                for index in range(plan.rounds)
            ]
        recipes.append(summary)
    return {
        "run_id": run_id,
        "status": run.status,
        "model_id": run.model_id,
        "created_at": run.created_at.isoformat(),
        "questions": run.settings["questions"],
        "done": len(attempts),
        "total": plan.total,
        "rounds": plan.rounds,
        "memory": {
            "writes": bool(run.settings.get("memory_writes")),
            "namespace": run.settings.get("memory_namespace"),
            "entries_at_start": run.settings.get("memory_entries_at_start"),
        },
        "recipes": recipes,
    }


def _memories_used(store: Store, run_id: int) -> dict[int, int]:
    """Return attempt id -> number of memories its prompt showed, for the run's memory attempts."""
    return {attempt.id: len(attempt.details.get("memories_used", []))
            for attempt in store.run_attempts(run_id) if "memories_used" in attempt.details}


def _round_summary(index: int, attempts: list[AttemptSummary], memories_used: dict[int, int]) -> dict[str, Any]:
    """Return one round's accuracy with its interval, and the share of attempts that were shown a memory."""
    scored = [a for a in attempts if a.verdict in SCORED_VERDICTS]
    correct = sum(a.verdict == "correct" for a in scored)
    low, high = wilson_interval(correct, len(scored)) if scored else (None, None)
    with_memory = [memories_used[a.id] > 0 for a in scored if a.id in memories_used]
    return {
        "round": index + 1,
        "n": len(scored),
        "correct": correct,
        "accuracy": correct / len(scored) if scored else None,
        "ci_low": low,
        "ci_high": high,
        "unparsed": sum(a.verdict == "unparsed" for a in scored),
        "errors": sum(a.verdict == "error" for a in attempts),
        "used_memory": _share(with_memory),  # None for a recipe without memory
    }


def _recipe_summary(recipe: dict[str, Any], uses_reference: bool, attempts: list[AttemptSummary]) -> dict[str, Any]:
    scored = [a for a in attempts if a.verdict in SCORED_VERDICTS]
    correct = sum(a.verdict == "correct" for a in scored)
    n = len(scored)
    # NOTE: with repeats, the attempts at one question count as independent observations, so the
    # interval is narrower than one computed over questions would be.
    low, high = wilson_interval(correct, n) if n else (None, None)
    return {
        "recipe": recipe["label"],
        "techniques": recipe["techniques"],
        "options": recipe["options"],
        "n": n,
        "correct": correct,
        "accuracy": correct / n if n else None,
        "ci_low": low,
        "ci_high": high,
        "unparsed": sum(a.verdict == "unparsed" for a in scored),
        "errors": sum(a.verdict == "error" for a in attempts),
        "uses_reference": uses_reference,
        # Share of attempts with at least one correct sample (pass@N for search). It is graded with
        # the reference answer after the fact, so it bounds what a perfect verifier could reach.
        "any_correct": _share([a.any_correct for a in scored if a.any_correct is not None]),
        "mean_tokens": mean(a.completion_tokens for a in scored) if n else None,
        "mean_seconds": mean(a.seconds for a in scored) if n else None,
    }


def _share(flags: list[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def run_grid(store: Store, run_id: int) -> dict[str, Any]:
    """Return the question-by-recipe grid of verdicts: {"questions", "recipes", "cells"}."""
    plan = load_plan(store, run_id)
    labels = [recipe.label for recipe in plan.recipes]
    cells = [[{"correct": 0, "total": 0, "verdicts": [], "attempt_ids": []} for _ in labels] for _ in plan.questions]
    for attempt in counted_attempts(store, run_id):
        question = parse_item(attempt.item).question
        cell = cells[question][labels.index(attempt.recipe)]
        cell["total"] += 1
        cell["correct"] += attempt.verdict == "correct"
        cell["verdicts"].append(attempt.verdict)
        cell["attempt_ids"].append(attempt.id)
    return {"questions": list(plan.labels), "recipes": labels, "cells": cells}


SUMMARY_TABLE_COLUMNS = ["recipe", "n", "correct", "accuracy", "95% interval", "unparsed", "errors",
                         "mean tokens", "mean seconds", "any sample correct (uses the reference)"]


def summary_table(summary: dict[str, Any]) -> list[list[Any]]:
    """Return the summary's recipes as table rows in SUMMARY_TABLE_COLUMNS order."""
    rows = []
    for recipe in summary["recipes"]:
        label = recipe["recipe"] + (" [uses the reference answer]" if recipe["uses_reference"] else "")
        if not recipe["n"]:
            rows.append([label, 0, 0, "", "", recipe["unparsed"], recipe["errors"], "", "", ""])
            continue
        rows.append([
            label,
            recipe["n"],
            recipe["correct"],
            f"{recipe['accuracy']:.1%}",
            f"{recipe['ci_low']:.1%} to {recipe['ci_high']:.1%}",
            recipe["unparsed"],
            recipe["errors"],
            round(recipe["mean_tokens"], 1),
            round(recipe["mean_seconds"], 2),
            "" if recipe["any_correct"] is None else f"{recipe['any_correct']:.1%}",
        ])
        for row in recipe.get("by_round", []):
            rows.append(_round_row(label, row))
    return rows


def _round_row(label: str, row: dict[str, Any]) -> list[Any]:
    """Return one round of a recipe as a table row, with the columns that rounds do not split left empty."""
    name = f"{label} · round {row['round']}"
    if row["used_memory"] is not None:
        name += f" ({row['used_memory']:.0%} shown a memory)"
    if not row["n"]:
        return [name, 0, 0, "", "", row["unparsed"], row["errors"], "", "", ""]
    return [name, row["n"], row["correct"], f"{row['accuracy']:.1%}",
            f"{row['ci_low']:.1%} to {row['ci_high']:.1%}", row["unparsed"], row["errors"], "", "", ""]


def benchmark_run_choices(store: Store, limit: int = 50, unfinished_only: bool = False) -> list[tuple[str, int]]:
    """Return (label, run id) pairs of the newest benchmark runs, for a run picker."""
    runs = store.list_runs(limit, kind="benchmark")
    if unfinished_only:
        runs = [run for run in runs if run.status != "finished"]
    choices = []
    for run in runs:
        source = run.settings.get("questions", {})
        questions = source.get("family") or source.get("name") or "questions"
        recipes = ", ".join(recipe["label"] for recipe in run.settings.get("recipes", []))
        label = f"#{run.id} · {run.status} · {questions} x {len(run.settings.get('question_ids', []))} · {recipes} · " \
                f"{run.model_id} · {run.created_at:%Y-%m-%d %H:%M}"
        choices.append((label, run.id))
    return choices
