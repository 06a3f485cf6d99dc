"""Export stored attempts and run summaries as CSV or JSONL, with each run's reproducibility record.

Every attempt row carries its run's record (model, revision, device, dtype, seed, settings, chat
template hash, package versions), so a row read alone still records how to reproduce it. In CSV,
the JSON-valued columns hold JSON text; `read_export` turns both formats back into the same rows.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from lrm_lab.errors import InputError
from lrm_lab.service.results import summarize_run
from lrm_lab.store import AttemptRecord, RunRecord, Store

FORMATS = ("csv", "jsonl")
ATTEMPT_COLUMNS = (
    "attempt_id", "created_at", "run_id", "recipe", "technique", "item", "question_id", "family", "question",
    "reference", "seed", "answer", "verdict", "score", "extractor_version", "completion_tokens", "seconds",
    "trace", "error", "options", "details",
)
RUN_COLUMNS = (
    "run_kind", "run_status", "run_created_at", "model_id", "model_revision", "device", "dtype", "run_seed",
    "chat_template_hash", "run_settings", "package_versions",
)
SUMMARY_COLUMNS = (
    "run_id", "recipe", "n", "correct", "accuracy", "ci_low", "ci_high", "unparsed", "errors", "uses_reference",
    "any_correct", "mean_tokens", "mean_seconds",
)
JSON_COLUMNS = {"options", "details", "run_settings", "package_versions"}
INT_COLUMNS = {"attempt_id", "run_id", "question_id", "seed", "completion_tokens", "run_seed", "n", "correct",
               "unparsed", "errors"}
FLOAT_COLUMNS = {"score", "seconds", "accuracy", "ci_low", "ci_high", "any_correct", "mean_tokens", "mean_seconds"}
BOOL_COLUMNS = {"uses_reference"}
# Text columns the store never leaves NULL; in CSV an empty cell of any other column reads back as None.
TEXT_COLUMNS = {"created_at", "technique", "question", "verdict", "extractor_version", "trace", "run_kind",
                "run_status", "run_created_at", "model_id", "device", "dtype"}


def run_record(run: RunRecord) -> dict[str, Any]:
    """Return the reproducibility record of a run as export columns."""
    return {
        "run_kind": run.kind,
        "run_status": run.status,
        "run_created_at": run.created_at.isoformat(),
        "model_id": run.model_id,
        "model_revision": run.model_revision,
        "device": run.device,
        "dtype": run.dtype,
        "run_seed": run.seed,
        "chat_template_hash": run.settings.get("chat_template_hash"),
        "run_settings": run.settings,
        "package_versions": run.package_versions,
    }


def attempt_row(attempt: AttemptRecord) -> dict[str, Any]:
    row = {
        "attempt_id": attempt.id,
        "created_at": attempt.created_at.isoformat(),
        "run_id": attempt.run_id,
        "recipe": attempt.recipe,
        "technique": attempt.technique,
        "item": attempt.item,
        "question_id": attempt.question_id,
        "family": attempt.question.family,
        "question": attempt.question.text,
        "reference": attempt.question.reference,
        "seed": attempt.seed,
        "answer": attempt.answer,
        "verdict": attempt.verdict,
        "score": attempt.score,
        "extractor_version": attempt.extractor_version,
        "completion_tokens": attempt.completion_tokens,
        "seconds": attempt.seconds,
        "trace": attempt.trace,
        "error": attempt.error,
        "options": attempt.options,
        "details": attempt.details,
    }
    return row | run_record(attempt.run)


def attempt_rows(store: Store, run_id: int) -> list[dict[str, Any]]:
    """Return one row per stored attempt of the run, in the order they were stored."""
    if store.get_run(run_id) is None:
        raise InputError(f"No run with id {run_id}. `python -m lrm_lab runs` lists the stored runs.")
    return [attempt_row(attempt) for attempt in store.run_attempts(run_id)]


def summary_rows(store: Store, run_ids: list[int]) -> list[dict[str, Any]]:
    """Return one row per recipe of each benchmark run, with the run's reproducibility record."""
    rows = []
    for run_id in run_ids:
        summary = summarize_run(store, run_id)
        record = run_record(store.get_run(run_id))
        rows += [{"run_id": run_id} | {key: recipe[key] for key in SUMMARY_COLUMNS[1:]} | record
                 for recipe in summary["recipes"]]
    return rows


def export_attempts(store: Store, run_id: int, fmt: str) -> str:
    return write_rows(attempt_rows(store, run_id), ATTEMPT_COLUMNS + RUN_COLUMNS, fmt)


def export_summaries(store: Store, run_ids: list[int], fmt: str) -> str:
    return write_rows(summary_rows(store, run_ids), SUMMARY_COLUMNS + RUN_COLUMNS, fmt)


def write_rows(rows: list[dict[str, Any]], columns: tuple[str, ...], fmt: str) -> str:
    """Write rows as CSV (with a header) or JSONL (one object per line)."""
    if fmt not in FORMATS:
        raise InputError(f"Export format must be one of {', '.join(FORMATS)}, got {fmt!r}.")
    if fmt == "jsonl":
        return "".join(json.dumps({key: row[key] for key in columns}, ensure_ascii=False) + "\n" for row in rows)

    # NOTE: a text starting with "=", "+", "-" or "@" stays as it is, so a spreadsheet that opens
    # the file may read it as a formula. The file keeps the stored text exactly.
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _csv_cell(key, row[key]) for key in columns})
    return buffer.getvalue()


def _csv_cell(key: str, value: Any) -> Any:
    if key in JSON_COLUMNS:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if value is None:
        return ""  # read_export reads an empty cell back as None
    return value


def read_export(text: str, fmt: str) -> list[dict[str, Any]]:
    """Read an exported file back into rows with the types they were written with."""
    if fmt == "jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if fmt != "csv":
        raise InputError(f"Export format must be one of {', '.join(FORMATS)}, got {fmt!r}.")
    return [{key: _read_cell(key, value) for key, value in row.items()} for row in csv.DictReader(io.StringIO(text))]


def _read_cell(key: str, value: str) -> Any:
    if key in JSON_COLUMNS:
        return json.loads(value)
    if value == "":
        # NOTE: CSV cannot tell an empty text from a missing one, so an empty answer, error or
        # reference reads back as None.
        return "" if key in TEXT_COLUMNS else None
    if key in INT_COLUMNS:
        return int(value)
    if key in FLOAT_COLUMNS:
        return float(value)
    if key in BOOL_COLUMNS:
        return value == "True"
    return value
