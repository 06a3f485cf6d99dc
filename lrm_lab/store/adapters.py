"""Queries on the adapters table: create, record progress, finish, look up, list and delete."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lrm_lab.errors import InputError
from lrm_lab.store.plain_json import to_plain_json
from lrm_lab.store.records import AdapterRecord, check_adapter_name
from lrm_lab.store.tables import ADAPTER_KINDS, ADAPTER_STATUSES, AdapterRow

logger = logging.getLogger(__name__)

FINISHED_ADAPTER_STATUSES = tuple(status for status in ADAPTER_STATUSES if status != "training")


class AdapterQueries:
    """The Store's adapter methods. The Store class mixes them in and provides ``_sessions``."""

    _sessions: Any

    def create_adapter(
        self,
        *,
        name: str,
        kind: str,
        family: str | None,
        base_model_id: str,
        base_model_revision: str | None,
        base_model_name: str,
        path: str,
        settings: dict[str, Any],
    ) -> AdapterRecord:
        """Insert an adapter with status "training" and no steps done, and return it.

        Raises InputError when ``name`` is invalid (see check_adapter_name) or another adapter
        already has it, and ValueError when ``kind`` is not one of ADAPTER_KINDS.
        """
        name = check_adapter_name(name)
        _check_choice("adapter kind", kind, ADAPTER_KINDS)
        row = AdapterRow(
            name=name,
            kind=kind,
            family=family,
            base_model_id=base_model_id,
            base_model_revision=base_model_revision,
            base_model_name=base_model_name,
            path=str(path),
            settings=to_plain_json(settings),
            status="training",
            steps_done=0,
            curves={},
        )
        with self._sessions() as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError as error:
                session.rollback()
                if session.scalar(select(AdapterRow.id).where(AdapterRow.name == name)) is None:
                    raise
                raise InputError(
                    f"The adapter name {name!r} is taken by another adapter: choose another name."
                ) from error
            logger.info("created adapter %s (%r) at %s", row.id, name, row.path)
            return _adapter_record(row)

    def update_adapter_progress(self, adapter_id: int, *, steps_done: int, curves: dict[str, Any]) -> None:
        """Replace an adapter's count of finished steps and its curves.

        NaN and infinite values in ``curves`` are stored as the strings "nan", "inf" and "-inf",
        as to_plain_json writes them. Raises ValueError when there is no adapter with this id
        or ``steps_done`` is not an integer >= 0.
        """
        if isinstance(steps_done, bool) or not isinstance(steps_done, int) or steps_done < 0:
            raise ValueError(f"steps_done must be an integer >= 0, got {steps_done!r}")
        with self._sessions() as session:
            row = _get_row(session, adapter_id)
            row.steps_done = steps_done
            row.curves = to_plain_json(curves)
            session.commit()

    def finish_adapter(
        self, adapter_id: int, *, status: str, train_seconds: float | None, error: str | None = None
    ) -> AdapterRecord:
        """Set an adapter's final status, training time, error and finished_at time, and return it.

        ``status`` must be "finished", "stopped" or "failed". Calling it again on the same adapter
        replaces all four. Raises ValueError on another status, on a negative or non-finite
        ``train_seconds``, and when there is no adapter with this id.
        """
        _check_choice("adapter status", status, FINISHED_ADAPTER_STATUSES)
        if train_seconds is not None and not (math.isfinite(train_seconds) and train_seconds >= 0):
            raise ValueError(f"train_seconds must be a finite number >= 0 or None, got {train_seconds!r}")
        with self._sessions() as session:
            row = _get_row(session, adapter_id)
            row.status = status
            row.train_seconds = None if train_seconds is None else float(train_seconds)
            row.error = error
            row.finished_at = datetime.now(timezone.utc)
            session.commit()
            logger.info("adapter %s (%r) %s after %s steps", row.id, row.name, status, row.steps_done)
            return _adapter_record(row)

    def get_adapter(self, adapter_id: int) -> AdapterRecord | None:
        """Return the adapter with id ``adapter_id``, or None if there is none."""
        with self._sessions() as session:
            row = session.get(AdapterRow, adapter_id)
            return None if row is None else _adapter_record(row)

    def get_adapter_by_name(self, name: str) -> AdapterRecord | None:
        """Return the adapter called ``name`` (surrounding whitespace ignored), or None if there is none."""
        statement = select(AdapterRow).where(AdapterRow.name == name.strip())
        with self._sessions() as session:
            row = session.scalar(statement)
            return None if row is None else _adapter_record(row)

    def list_adapters(
        self,
        *,
        kind: str | None = None,
        family: str | None = None,
        base_model_id: str | None = None,
        statuses: Iterable[str] | None = None,
    ) -> list[AdapterRecord]:
        """Return the adapters that match every filter given, newest first.

        A filter left at None matches every adapter, so ``family=None`` does not select the
        adapters without a family. Raises ValueError when a status is not one of ADAPTER_STATUSES.
        """
        statement = select(AdapterRow).order_by(AdapterRow.created_at.desc(), AdapterRow.id.desc())
        if kind is not None:
            statement = statement.where(AdapterRow.kind == kind)
        if family is not None:
            statement = statement.where(AdapterRow.family == family)
        if base_model_id is not None:
            statement = statement.where(AdapterRow.base_model_id == base_model_id)
        if statuses is not None:
            requested = [statuses] if isinstance(statuses, str) else list(statuses)
            for status in requested:
                _check_choice("adapter status", status, ADAPTER_STATUSES)
            statement = statement.where(AdapterRow.status.in_(requested))
        with self._sessions() as session:
            return [_adapter_record(row) for row in session.scalars(statement)]

    def newest_adapter(
        self, *, kind: str, family: str | None, base_model_id: str, base_model_revision: str | None
    ) -> AdapterRecord | None:
        """Return the newest finished adapter trained for this family on this base model and revision.

        Every argument must match exactly, and a ``family`` or ``base_model_revision`` of None
        matches only adapters where that column is NULL. Returns None when no adapter matches.
        """
        statement = (
            select(AdapterRow)
            .where(
                AdapterRow.status == "finished",
                AdapterRow.kind == kind,
                AdapterRow.base_model_id == base_model_id,
                _equals_or_is_null(AdapterRow.family, family),
                _equals_or_is_null(AdapterRow.base_model_revision, base_model_revision),
            )
            .order_by(AdapterRow.created_at.desc(), AdapterRow.id.desc())
            .limit(1)
        )
        with self._sessions() as session:
            row = session.scalar(statement)
            return None if row is None else _adapter_record(row)

    def delete_adapter(self, adapter_id: int) -> AdapterRecord | None:
        """Delete an adapter's row and return what it contained, or None if there was none.

        The folder at the record's ``path`` is left as it is, so the caller deletes the files.
        """
        with self._sessions() as session:
            row = session.get(AdapterRow, adapter_id)
            if row is None:
                return None
            record = _adapter_record(row)
            session.delete(row)
            session.commit()
        logger.info("deleted adapter %s (%r)", record.id, record.name)
        return record


def _get_row(session: Any, adapter_id: int) -> AdapterRow:
    row = session.get(AdapterRow, adapter_id)
    if row is None:
        raise ValueError(f"adapter {adapter_id} not found")
    return row


def _equals_or_is_null(column: Any, value: str | None) -> Any:
    return column.is_(None) if value is None else column == value


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"invalid {name} {value!r}: expected one of {', '.join(allowed)}")


def _adapter_record(row: AdapterRow) -> AdapterRecord:
    return AdapterRecord(
        id=row.id,
        name=row.name,
        kind=row.kind,
        family=row.family,
        base_model_id=row.base_model_id,
        base_model_revision=row.base_model_revision,
        base_model_name=row.base_model_name,
        path=row.path,
        settings=row.settings,
        status=row.status,
        steps_done=row.steps_done,
        curves=row.curves,
        train_seconds=row.train_seconds,
        error=row.error,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )
