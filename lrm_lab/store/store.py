"""The Store: saves runs, questions and attempts, and reads them back as plain records.

Memories and adapters have their own query modules, which the Store mixes in.
"""

from __future__ import annotations

import hashlib
import logging
import math
from datetime import datetime, timezone
from typing import Any, get_args

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, sessionmaker

from lrm_lab.store.adapters import AdapterQueries
from lrm_lab.store.database import create_database_engine, database_url, upgrade_to_head
from lrm_lab.store.memories import MemoryQueries
from lrm_lab.store.plain_json import canonical_json, to_plain_json
from lrm_lab.store.records import (
    AttemptRecord,
    AttemptSummary,
    CostRecord,
    QuestionRecord,
    RunRecord,
)
from lrm_lab.store.tables import (
    QUESTION_SOURCES,
    RUN_KINDS,
    RUN_STATUSES,
    AttemptRow,
    QuestionRow,
    RunRow,
)
from lrm_lab.tasks.question import AnswerKind, Question
from lrm_lab.tasks.verdict import Verdict

logger = logging.getLogger(__name__)

FINISHED_RUN_STATUSES = tuple(status for status in RUN_STATUSES if status != "running")
ANSWER_KINDS: tuple[str, ...] = get_args(AnswerKind)
VERDICTS = tuple(verdict.value for verdict in Verdict)
SUMMARY_TEXT_LENGTH = 120  # characters of the question text in an AttemptSummary


class ItemAlreadyStoredError(ValueError):
    """An attempt for this benchmark item is already stored in the run."""


def question_content_hash(question: Question) -> str:
    """Return the hex SHA-256 of the canonical JSON of what makes a question the same question.

    The hash covers source, family, settings, seed, text and reference. It leaves out entry and
    answer_kind, so a question stored once keeps the entry and answer_kind it was first stored with.
    """
    content = {
        "source": question.source,
        "family": question.family,
        "settings": to_plain_json(question.settings),
        "seed": question.seed,
        "text": question.text,
        "reference": question.reference,
    }
    return hashlib.sha256(canonical_json(content).encode("ascii")).hexdigest()


class Store(MemoryQueries, AdapterQueries):
    """The lab's database of runs, questions, attempts, memories and adapters. Safe to share between threads.

    Opening a store creates the database if needed and upgrades its schema to the newest
    revision. Every write commits before the method returns.
    """

    def __init__(self, url: str | None = None) -> None:
        """Open the database at ``url``, or at database_url() when ``url`` is None.

        Raises DatabaseVersionError when a newer LRM Lab created the database.
        """
        self._engine = create_database_engine(url or database_url())
        try:
            upgrade_to_head(self._engine)
        except BaseException:
            self._engine.dispose()
            raise
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        logger.info("Opened the database %s", self.url)

    @property
    def url(self) -> str:
        """The database URL, with any password masked."""
        return self._engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Close the store's database connections."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Runs

    def create_run(
        self,
        *,
        kind: str,
        model_id: str,
        model_revision: str | None,
        device: str,
        dtype: str,
        settings: dict[str, Any],
        seed: int | None,
        package_versions: dict[str, Any],
    ) -> int:
        """Insert a run with status "running" and return its id."""
        _check_choice("run kind", kind, RUN_KINDS)
        row = RunRow(
            kind=kind,
            status="running",
            model_id=model_id,
            model_revision=model_revision,
            device=device,
            dtype=dtype,
            settings=to_plain_json(settings),
            seed=seed,
            package_versions=to_plain_json(package_versions),
        )
        with self._sessions() as session:
            session.add(row)
            session.commit()
            return row.id

    def finish_run(self, run_id: int, status: str) -> None:
        """Set a run's final status and its finished_at time.

        ``status`` must be "finished", "cancelled" or "failed". Calling it again on the same
        run replaces both the status and finished_at.
        """
        _check_choice("run status", status, FINISHED_RUN_STATUSES)
        with self._sessions() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                raise ValueError(f"run {run_id} not found")
            row.status = status
            row.finished_at = datetime.now(timezone.utc)
            session.commit()

    def reopen_run(self, run_id: int) -> None:
        """Set a stopped run back to "running", so that a resumed benchmark can add to it."""
        with self._sessions() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                raise ValueError(f"run {run_id} not found")
            row.status = "running"
            row.finished_at = None
            session.commit()

    def get_run(self, run_id: int) -> RunRecord | None:
        """Return the run with id ``run_id``, or None if there is none."""
        with self._sessions() as session:
            row = session.get(RunRow, run_id)
            return None if row is None else _run_record(row)

    def list_runs(
        self,
        limit: int = 50,
        *,
        kind: str | None = None,
        model_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[RunRecord]:
        """Return up to ``limit`` runs, newest first, keeping only those that match every filter given.

        ``since`` is inclusive and ``until`` exclusive; both compare with the run's created_at.
        """
        _check_limit(limit)
        statement = select(RunRow).order_by(RunRow.created_at.desc(), RunRow.id.desc()).limit(limit)
        if kind is not None:
            statement = statement.where(RunRow.kind == kind)
        if model_id is not None:
            statement = statement.where(RunRow.model_id == model_id)
        if status is not None:
            statement = statement.where(RunRow.status == status)
        if since is not None:
            statement = statement.where(RunRow.created_at >= since)
        if until is not None:
            statement = statement.where(RunRow.created_at < until)
        with self._sessions() as session:
            return [_run_record(row) for row in session.scalars(statement)]

    # Questions

    def add_question(self, question: Question) -> int:
        """Insert a question and return its id, or return the id of the stored one with the same content hash."""
        _check_choice("question source", question.source, QUESTION_SOURCES)
        _check_choice("answer kind", question.answer_kind, ANSWER_KINDS)
        content_hash = question_content_hash(question)
        find_existing = select(QuestionRow.id).where(QuestionRow.content_hash == content_hash)

        with self._sessions() as session:
            existing_id = session.scalar(find_existing)
            if existing_id is not None:
                return existing_id

            row = QuestionRow(
                source=question.source,
                family=question.family,
                settings=to_plain_json(question.settings),
                seed=question.seed,
                text=question.text,
                reference=question.reference,
                entry=to_plain_json(question.entry),
                answer_kind=question.answer_kind,
                content_hash=content_hash,
            )
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                # Another thread or process stored the same question since the check above.
                session.rollback()
                existing_id = session.scalar(find_existing)
                if existing_id is None:
                    raise
                return existing_id
            return row.id

    def get_question(self, question_id: int) -> QuestionRecord | None:
        """Return the question with id ``question_id``, or None if there is none."""
        with self._sessions() as session:
            row = session.get(QuestionRow, question_id)
            return None if row is None else _question_record(row)

    # Attempts

    def add_attempt(
        self,
        *,
        run_id: int,
        question_id: int,
        technique: str,
        options: dict[str, Any],
        seed: int | None,
        model_id: str,
        trace: str,
        answer: str | None,
        verdict: str,
        score: float | None,
        extractor_version: str,
        completion_tokens: int,
        seconds: float,
        details: dict[str, Any],
        error: str | None = None,
        recipe: str | None = None,
        item: str | None = None,
    ) -> int:
        """Insert one finished attempt, commit it and return its id.

        Raises ValueError, and stores nothing, when the verdict is not a Verdict value,
        completion_tokens or seconds is negative, score is NaN or infinite, or the run or
        question does not exist. Raises ItemAlreadyStoredError when the run already has an
        attempt for ``item``.

        NOTE: SQLite stores NUL characters in text unchanged, but PostgreSQL rejects them,
        so there a trace or answer containing "\\x00" fails to store. Only SQLite is tested.
        """
        _check_choice("verdict", verdict, VERDICTS)
        if isinstance(completion_tokens, bool) or not isinstance(completion_tokens, int) or completion_tokens < 0:
            raise ValueError(f"completion_tokens must be an integer >= 0, got {completion_tokens!r}")
        if not seconds >= 0:  # also rejects NaN
            raise ValueError(f"seconds must be a number >= 0, got {seconds!r}")
        if score is not None and not math.isfinite(score):
            # SQLite would store NaN as NULL, which reads back as "no score".
            raise ValueError(f"score must be a finite number or None, got {score!r}")

        row = AttemptRow(
            run_id=run_id,
            question_id=question_id,
            technique=technique,
            options=to_plain_json(options),
            seed=seed,
            model_id=model_id,
            trace=trace,
            answer=answer,
            verdict=str.__str__(verdict),
            score=score,
            extractor_version=extractor_version,
            completion_tokens=completion_tokens,
            seconds=float(seconds),
            details=to_plain_json(details),
            error=error,
            recipe=recipe,
            item=item,
        )
        with self._sessions() as session:
            if session.get(RunRow, run_id) is None:
                raise ValueError(f"run {run_id} not found: create the run before adding its attempts")
            if session.get(QuestionRow, question_id) is None:
                raise ValueError(f"question {question_id} not found: add the question before its attempts")
            session.add(row)
            try:
                session.commit()
            except IntegrityError as error:
                session.rollback()
                if item is not None and self._item_exists(session, run_id, item):
                    raise ItemAlreadyStoredError(f"run {run_id} already has an attempt for item {item}") from error
                raise
            return row.id

    @staticmethod
    def _item_exists(session: Any, run_id: int, item: str) -> bool:
        statement = select(AttemptRow.id).where(AttemptRow.run_id == run_id, AttemptRow.item == item)
        return session.scalar(statement) is not None

    def list_attempts(
        self,
        *,
        limit: int = 100,
        technique: str | None = None,
        model_id: str | None = None,
        family: str | None = None,
        recipe: str | None = None,
        run_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AttemptSummary]:
        """Return up to ``limit`` attempts, newest first, keeping only those that match every filter given.

        ``technique`` also matches composed recipes that contain it. ``since`` is inclusive and
        ``until`` exclusive; both compare with the attempt's created_at.
        """
        _check_limit(limit)
        statement = (
            select(
                AttemptRow.id,
                AttemptRow.created_at,
                AttemptRow.run_id,
                AttemptRow.model_id,
                AttemptRow.technique,
                AttemptRow.recipe,
                QuestionRow.family,
                QuestionRow.text,
                AttemptRow.answer,
                AttemptRow.verdict,
                AttemptRow.completion_tokens,
                AttemptRow.seconds,
                AttemptRow.item,
                AttemptRow.details["any_correct"].as_boolean().label("any_correct"),
            )
            .join(AttemptRow.question)
            .order_by(AttemptRow.created_at.desc(), AttemptRow.id.desc())
            .limit(limit)
        )
        if technique is not None:
            # A composed recipe stores "memory+search", which matches both "memory" and "search".
            statement = statement.where(or_(
                AttemptRow.technique == technique,
                AttemptRow.technique.startswith(technique + "+", autoescape=True),
                AttemptRow.technique.endswith("+" + technique, autoescape=True),
                AttemptRow.technique.contains("+" + technique + "+", autoescape=True),
            ))
        if model_id is not None:
            statement = statement.where(AttemptRow.model_id == model_id)
        if family is not None:
            statement = statement.where(QuestionRow.family == family)
        if recipe is not None:
            statement = statement.where(AttemptRow.recipe == recipe)
        if run_id is not None:
            statement = statement.where(AttemptRow.run_id == run_id)
        if since is not None:
            statement = statement.where(AttemptRow.created_at >= since)
        if until is not None:
            statement = statement.where(AttemptRow.created_at < until)

        with self._sessions() as session:
            rows = session.execute(statement).all()

        # Sliced here rather than with SQL substr(), which stops at the first NUL character in SQLite.
        return [
            AttemptSummary(
                id=row.id,
                created_at=row.created_at,
                run_id=row.run_id,
                model_id=row.model_id,
                technique=row.technique,
                recipe=row.recipe,
                family=row.family,
                question_text=row.text[:SUMMARY_TEXT_LENGTH],
                answer=row.answer,
                verdict=row.verdict,
                completion_tokens=row.completion_tokens,
                seconds=row.seconds,
                item=row.item,
                any_correct=row.any_correct,
            )
            for row in rows
        ]

    def get_attempt(self, attempt_id: int) -> AttemptRecord | None:
        """Return the attempt with id ``attempt_id`` with its question and run, or None if there is none."""
        with self._sessions() as session:
            row = session.get(
                AttemptRow,
                attempt_id,
                options=[joinedload(AttemptRow.question), joinedload(AttemptRow.run)],
            )
            return None if row is None else _attempt_record(row)

    def run_attempts(self, run_id: int) -> list[AttemptRecord]:
        """Return every attempt of run ``run_id`` in the order they were stored, with questions and run."""
        statement = (
            select(AttemptRow)
            .where(AttemptRow.run_id == run_id)
            .options(joinedload(AttemptRow.question), joinedload(AttemptRow.run))
            .order_by(AttemptRow.id)
        )
        with self._sessions() as session:
            return [_attempt_record(row) for row in session.scalars(statement)]

    def recipe_cost(self, *, model_id: str, device: str, recipe: str, limit: int = 200) -> CostRecord:
        """Return the mean seconds and completion tokens of the newest ``limit`` counted attempts of a recipe.

        Only attempts on ``model_id`` in runs on ``device`` count, and cancelled or failed ones
        do not, so the means estimate what the next attempt of this recipe costs here.
        """
        _check_limit(limit)
        newest = (
            select(AttemptRow.seconds, AttemptRow.completion_tokens)
            .join(AttemptRow.run)
            .where(
                AttemptRow.model_id == model_id,
                AttemptRow.recipe == recipe,
                RunRow.device == device,
                AttemptRow.verdict.not_in(("cancelled", "error")),
            )
            .order_by(AttemptRow.id.desc())
            .limit(limit)
            .subquery()
        )
        statement = select(func.count(), func.avg(newest.c.seconds), func.avg(newest.c.completion_tokens))
        with self._sessions() as session:
            count, seconds, tokens = session.execute(statement).one()
        return CostRecord(attempts=count, mean_seconds=seconds, mean_tokens=tokens)

    def distinct_values(self) -> dict[str, list[str]]:
        """Return the stored model ids, recipes and families, sorted, for filter menus."""
        with self._sessions() as session:
            models = session.scalars(select(AttemptRow.model_id).distinct()).all()
            recipes = session.scalars(select(AttemptRow.recipe).where(AttemptRow.recipe.is_not(None)).distinct()).all()
            families = session.scalars(select(QuestionRow.family).where(QuestionRow.family.is_not(None)).distinct()).all()
        return {"models": sorted(models), "recipes": sorted(recipes), "families": sorted(families)}


def _attempt_record(row: AttemptRow) -> AttemptRecord:
    return AttemptRecord(
        id=row.id,
        created_at=row.created_at,
        run_id=row.run_id,
        question_id=row.question_id,
        technique=row.technique,
        options=row.options,
        seed=row.seed,
        model_id=row.model_id,
        trace=row.trace,
        answer=row.answer,
        verdict=row.verdict,
        score=row.score,
        extractor_version=row.extractor_version,
        completion_tokens=row.completion_tokens,
        seconds=row.seconds,
        details=row.details,
        error=row.error,
        recipe=row.recipe,
        item=row.item,
        question=_question_record(row.question),
        run=_run_record(row.run),
    )


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"invalid {name} {value!r}: expected one of {', '.join(allowed)}")


def _check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be an integer >= 1, got {limit!r}")


def _run_record(row: RunRow) -> RunRecord:
    return RunRecord(
        id=row.id,
        kind=row.kind,
        status=row.status,
        created_at=row.created_at,
        model_id=row.model_id,
        model_revision=row.model_revision,
        device=row.device,
        dtype=row.dtype,
        settings=row.settings,
        seed=row.seed,
        package_versions=row.package_versions,
        finished_at=row.finished_at,
    )


def _question_record(row: QuestionRow) -> QuestionRecord:
    return QuestionRecord(
        id=row.id,
        source=row.source,
        family=row.family,
        settings=row.settings,
        seed=row.seed,
        text=row.text,
        reference=row.reference,
        answer_kind=row.answer_kind,
        entry=row.entry,
    )
