"""Read stored runs and attempts back for the History tab, the API and the CLI."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from lrm_lab.errors import InputError
from lrm_lab.store import RUN_KINDS, AttemptRecord, Store

HISTORY_COLUMNS = [
    "id", "time (UTC)", "run", "model", "technique", "recipe", "family", "question", "answer", "verdict", "tokens",
    "seconds",
]
RUN_COLUMNS = ["id", "time (UTC)", "kind", "status", "model", "device", "techniques", "attempts"]
MAX_HISTORY_ROWS = 1000
MAX_ID = 2**63 - 1  # the largest integer SQLite and PostgreSQL bigint store
MAX_COUNTED_ATTEMPTS = 1000  # the runs table counts a run's attempts up to this many, then shows "1000+"
DATE_FORMAT = "%Y-%m-%d"


def history_rows(
    store: Store,
    limit: int | float = 50,
    technique: str = "",
    family: str = "",
    model_id: str = "",
    recipe: str = "",
    run_id: int | float | str | None = None,
    since: str | date | None = "",
    until: str | date | None = "",
) -> list[list[Any]]:
    """Return the newest attempts that match every filter given, as table rows in HISTORY_COLUMNS order.

    Empty filters match everything. ``since`` and ``until`` are UTC dates ("YYYY-MM-DD") and
    both days are included. Raises InputError on an invalid limit, run id or date.
    """
    start, end = date_bounds(since, until)
    rows = store.list_attempts(
        limit=_check_rows(limit),
        technique=technique or None,
        family=family or None,
        model_id=model_id or None,
        recipe=recipe or None,
        run_id=parse_id(run_id, "run id", optional=True),
        since=start,
        until=end,
    )
    return [
        [
            row.id,
            _format_time(row.created_at),
            row.run_id,
            row.model_id,
            row.technique,
            row.recipe or "",
            row.family or "typed",
            row.question_text,
            row.answer,
            row.verdict,
            row.completion_tokens,
            round(row.seconds, 2),
        ]
        for row in rows
    ]


def run_rows(
    store: Store,
    limit: int | float = 50,
    kind: str = "",
    model_id: str = "",
    since: str | date | None = "",
    until: str | date | None = "",
) -> list[list[Any]]:
    """Return the newest runs that match every filter given, as table rows in RUN_COLUMNS order.

    The attempts column counts each run's stored attempts up to MAX_COUNTED_ATTEMPTS and shows
    "1000+" beyond, so a long benchmark does not slow the table down.
    """
    if kind and kind not in RUN_KINDS:
        raise InputError(f"Unknown run kind {kind!r}; choose from {', '.join(RUN_KINDS)}.")
    start, end = date_bounds(since, until)
    runs = store.list_runs(
        _check_rows(limit), kind=kind or None, model_id=model_id or None, since=start, until=end
    )
    return [
        [
            run.id,
            _format_time(run.created_at),
            run.kind,
            run.status,
            run.model_id,
            run.device,
            _run_techniques(run.settings),
            _count_attempts(store, run.id),
        ]
        for run in runs
    ]


def filter_choices(store: Store) -> dict[str, list[str]]:
    """Return the stored model ids, recipes and families, sorted, to fill the filter menus."""
    return store.distinct_values()


def attempt_dict(store: Store, attempt_id: int | float | str | None) -> dict[str, Any]:
    """Return one stored attempt with its question, run and full trace, as plain JSON values."""
    return _jsonable(dataclasses.asdict(load_attempt(store, attempt_id)))


def load_attempt(store: Store, attempt_id: int | float | str | None) -> AttemptRecord:
    """Return the stored attempt with this id; raise InputError when the id is invalid or unknown."""
    identifier = parse_id(attempt_id, "attempt id")
    record = store.get_attempt(identifier)
    if record is None:
        raise InputError(f"No attempt with id {identifier}. Refresh the history to see the stored ones.")
    return record


def parse_id(value: int | float | str | None, name: str, optional: bool = False) -> int | None:
    """Read a whole-number id from a number box, a text box or the command line.

    Returns None for an empty value when ``optional`` is true; raises InputError otherwise.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise InputError(f"The {name} is missing: give a whole number from 1 to {MAX_ID}.")
    invalid = InputError(f"The {name} must be a whole number from 1 to {MAX_ID}, got {value!r}.")
    if isinstance(value, bool):
        raise invalid
    try:
        identifier = int(value.strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):  # "abc", "1.5", NaN, infinity
        raise invalid from None
    if value != identifier and not isinstance(value, str):  # 1.5 from a number box
        raise invalid
    if not 1 <= identifier <= MAX_ID:
        raise invalid
    return identifier


def date_bounds(since: str | date | None, until: str | date | None) -> tuple[datetime | None, datetime | None]:
    """Turn a from-date and a to-date into UTC datetimes: the start of ``since`` and the end of ``until``.

    The store compares created_at >= since and created_at < until, so the to-date's bound is the
    next midnight and the whole of that day is included. Raises InputError on an invalid date
    or when the from-date is after the to-date.
    """
    first = _parse_date(since, "from")
    last = _parse_date(until, "to")
    if first is not None and last is not None and first > last:
        raise InputError(f"The from date {first.isoformat()} is after the to date {last.isoformat()}; swap them.")
    start = None if first is None else datetime.combine(first, time(), tzinfo=timezone.utc)
    end = None if last is None else datetime.combine(last + timedelta(days=1), time(), tzinfo=timezone.utc)
    return start, end


def _parse_date(value: str | date | None, name: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, DATE_FORMAT).date()
    except ValueError:
        raise InputError(f"The {name} date must be a UTC date written YYYY-MM-DD, such as 2025-03-01, got {text!r}.") from None


def _check_rows(limit: int | float | None) -> int:
    if limit is None or isinstance(limit, bool) or limit != limit or not 1 <= limit <= MAX_HISTORY_ROWS:
        raise InputError(f"The number of rows must be between 1 and {MAX_HISTORY_ROWS}, got {limit}.")
    return int(limit)


def _format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _run_techniques(settings: dict[str, Any]) -> str:
    """Name the techniques a comparison ran and the attempt a re-run repeats, or return "" for other runs."""
    text = ", ".join(str(name) for name in settings.get("techniques") or [])
    if settings.get("rerun_of") is not None:
        text += f" (re-run of attempt {settings['rerun_of']})"
    return text


def _count_attempts(store: Store, run_id: int) -> int | str:
    counted = len(store.list_attempts(limit=MAX_COUNTED_ATTEMPTS + 1, run_id=run_id))
    return f"{MAX_COUNTED_ATTEMPTS}+" if counted > MAX_COUNTED_ATTEMPTS else counted


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
