"""Re-score stored attempts: extract and check their stored outputs again with the current extractor.

Re-scoring only reports. It never changes a stored row, so the History tab can show what a
new extractor or scorer would change before anyone decides to re-run anything.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from lrm_lab.errors import InputError
from lrm_lab.service.history import parse_id
from lrm_lab.service.questions import question_from_record
from lrm_lab.store import AttemptRecord, Store
from lrm_lab.tasks.extract import EXTRACTOR_VERSION
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.techniques import TECHNIQUES
from lrm_lab.techniques.recipe import stage_options

log = logging.getLogger(__name__)

RESCORE_COLUMNS = [
    "attempt", "technique", "recipe", "old answer", "new answer", "old verdict", "new verdict", "extractor",
    "changed", "note",
]


def rescore_attempt(record: AttemptRecord) -> dict[str, Any]:
    """Return the attempt's stored answer and verdict beside those the current extractor gives.

    The keys are attempt_id, run_id, technique, recipe, old_/new_ answer, verdict, score and
    extractor_version, rescorable, changed, note and details (what the technique derived anew).
    A cancelled attempt keeps the verdict cancelled, but its partial output is still re-extracted.
    An attempt whose technique raised has no output to re-score and is reported as not rescorable.
    """
    report = {
        "attempt_id": record.id,
        "run_id": record.run_id,
        "technique": record.technique,
        "recipe": record.recipe,
        "old_answer": record.answer,
        "new_answer": record.answer,
        "old_verdict": record.verdict,
        "new_verdict": record.verdict,
        "old_score": record.score,
        "new_score": record.score,
        "old_extractor_version": record.extractor_version,
        "new_extractor_version": EXTRACTOR_VERSION,
        "rescorable": False,
        "changed": False,
        "note": "",
        "details": {},
    }

    # Attempts with no output of their own to check again.
    # A composed recipe ("memory+search") derives its answer in its decoding technique, the last one.
    technique = TECHNIQUES.get(record.technique.split("+")[-1])
    if record.verdict == Verdict.ERROR and record.error is not None:
        return report | {"note": f"not re-scorable: the technique failed ({record.error})"}
    if technique is None or technique.rescore is None:
        return report | {"note": f"not re-scorable: the technique {record.technique!r} has no re-scoring"}

    # Extract and check the stored output again, in the way the technique derived its answer from it.
    try:
        options = stage_options(record.technique, record.options)
        rescored = technique.rescore(question_from_record(record.question), record.trace, options, record.details)
    except InputError as error:
        return report | {"note": f"not re-scorable: {error}"}
    except (KeyError, TypeError, ValueError) as error:  # details stored by an older version of the technique
        log.warning("attempt %s could not be re-scored: %s: %s", record.id, type(error).__name__, error)
        return report | {"note": f"not re-scorable: its stored details do not fit ({type(error).__name__}: {error})"}

    new_verdict = Verdict.CANCELLED if record.verdict == Verdict.CANCELLED else rescored.verdict
    changed = rescored.answer != record.answer or str(new_verdict) != record.verdict
    return report | {
        "new_answer": rescored.answer,
        "new_verdict": str(new_verdict),
        "new_score": rescored.score,
        "new_extractor_version": rescored.extractor_version,
        "rescorable": True,
        "changed": changed,
        "note": rescored.note,
        "details": rescored.details,
    }


def rescore_run(store: Store, run_id: int | float | str | None) -> list[dict[str, Any]]:
    """Re-score every attempt of a run, in the order they were stored. Raises InputError for an unknown run."""
    identifier = parse_id(run_id, "run id")
    if store.get_run(identifier) is None:
        raise InputError(f"No run with id {identifier}. List the runs to see the stored ones.")
    return [rescore_attempt(record) for record in store.run_attempts(identifier)]


def rescore_summary(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Count the re-scored attempts, the changed ones and the verdict changes ("wrong -> correct": 3)."""
    changes = Counter(
        f"{report['old_verdict']} -> {report['new_verdict']}"
        for report in reports
        if report["old_verdict"] != report["new_verdict"]
    )
    return {
        "attempts": len(reports),
        "rescored": sum(report["rescorable"] for report in reports),
        "not_rescorable": sum(not report["rescorable"] for report in reports),
        "changed": sum(report["changed"] for report in reports),
        "answer_changed": sum(report["old_answer"] != report["new_answer"] for report in reports),
        "verdict_changes": dict(changes.most_common()),
        "extractor_version": EXTRACTOR_VERSION,
    }


def rescore_rows(reports: list[dict[str, Any]]) -> list[list[Any]]:
    """Turn re-score reports into table rows in RESCORE_COLUMNS order."""
    return [
        [
            report["attempt_id"],
            report["technique"],
            report["recipe"] or "",
            report["old_answer"],
            report["new_answer"],
            report["old_verdict"],
            report["new_verdict"],
            f"{report['old_extractor_version']} -> {report['new_extractor_version']}",
            "yes" if report["changed"] else "no",
            report["note"],
        ]
        for report in reports
    ]
