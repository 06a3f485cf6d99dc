"""Read stored attempts back for the History tab, the API and the CLI."""

from __future__ import annotations

import dataclasses
from typing import Any

from lrm_lab.errors import InputError
from lrm_lab.store import Store

HISTORY_COLUMNS = ["id", "time (UTC)", "model", "technique", "family", "question", "answer", "verdict", "tokens", "seconds"]
MAX_HISTORY_ROWS = 1000
MAX_ID = 2**63 - 1  # the largest integer SQLite and PostgreSQL bigint store


def history_rows(store: Store, limit: int | float = 50, technique: str = "", family: str = "", model_id: str = "") -> list[list[Any]]:
    """Return the newest attempts as table rows in HISTORY_COLUMNS order."""
    if limit is None or not 1 <= int(limit) <= MAX_HISTORY_ROWS:
        raise InputError(f"The number of rows must be between 1 and {MAX_HISTORY_ROWS}, got {limit}.")
    rows = store.list_attempts(
        limit=int(limit), technique=technique or None, family=family or None, model_id=model_id or None
    )
    return [
        [
            row.id,
            row.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            row.model_id,
            row.technique,
            row.family or "typed",
            row.question_text,
            row.answer,
            row.verdict,
            row.completion_tokens,
            round(row.seconds, 2),
        ]
        for row in rows
    ]


def attempt_dict(store: Store, attempt_id: int | float | None) -> dict[str, Any]:
    """Return one stored attempt with its question, run and full trace, as plain JSON values."""
    if attempt_id is None or float(attempt_id) != int(attempt_id) or not 1 <= int(attempt_id) <= MAX_ID:
        raise InputError(f"An attempt id is a whole number from 1 to {MAX_ID}, got {attempt_id!r}.")
    record = store.get_attempt(int(attempt_id))
    if record is None:
        raise InputError(f"No attempt with id {int(attempt_id)}. Refresh the history to see the stored ones.")
    return _jsonable(dataclasses.asdict(record))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
