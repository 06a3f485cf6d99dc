"""Re-run a stored attempt: the same question, technique, options and seed, stored as a new run."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from lrm_lab.errors import InputError
from lrm_lab.models.catalog import EMBEDDED
from lrm_lab.service.compare import (
    CompareRequest,
    CompareUpdate,
    plan_comparison,
    run_comparison,
)
from lrm_lab.service.lab import Lab
from lrm_lab.service.memory import MemorySettings
from lrm_lab.service.questions import question_from_record
from lrm_lab.store import AttemptRecord, RunRecord, Store

# Run fields that change what a model generates. A re-run that differs in one is not an exact repeat.
_RUN_FIELDS = {"model_revision": "model revision", "device": "device", "dtype": "dtype"}
_RESULT_FIELDS = ("answer", "verdict", "completion_tokens", "seconds")


def rerun_request(record: AttemptRecord, model_id: str) -> CompareRequest:
    """Build the comparison that repeats a stored attempt on the model ``model_id``.

    Raises InputError when ``model_id`` is not the model the attempt ran on, or when the stored
    technique or options are no longer valid.
    """
    if model_id != record.model_id:
        raise InputError(
            f"Attempt {record.id} ran on {record.model_id}, and {model_id} is loaded; "
            f"load {record.model_id} first to re-run it."
        )
    # A composed recipe stores its options per technique; a single technique stores them flat.
    options = dict(record.options) if "+" in record.technique else {record.technique: dict(record.options)}
    # A memory recipe reads the same namespace again but writes nothing, so a re-run leaves memory as it is.
    # NOTE: the namespace may hold other memories now than when the attempt ran.
    namespace = record.run.settings.get("memory_namespace")
    # A GFlowNet attempt that took the newest adapter re-runs with the same one, not a newer one.
    if "gflownet" in options and record.details.get("adapter") and not options["gflownet"].get("adapter"):
        options["gflownet"] = options["gflownet"] | {"adapter": record.details["adapter"]}
    request = CompareRequest(
        question=question_from_record(record.question),
        techniques=(record.technique,),
        options=options,
        seed=record.seed,
        rerun_of=record.id,
        memory=MemorySettings(namespace, writes=False),
    )
    plan_comparison(request)  # reject a technique or options that this version no longer accepts
    return request


def rerun_attempt(lab: Lab, record: AttemptRecord, cancel: threading.Event | None = None) -> Iterator[CompareUpdate]:
    """Re-run a stored attempt on the lab's model, yielding the comparison's progress updates.

    The model is checked before anything loads: with no model loaded yet, the embedded model
    is the one that would load, so an attempt of another model is rejected at once.
    """
    loaded = lab.slot.loaded
    rerun_request(record, loaded.info.model_id if loaded is not None else EMBEDDED)
    model = lab.model
    # The model may have been switched by another user since the check above, so check again.
    request = rerun_request(record, model.info.model_id)
    yield from run_comparison(request, model, lab.store, cancel)


def rerun_json(store: Store, record: AttemptRecord, final: CompareUpdate) -> dict[str, Any]:
    """Compare a finished re-run with the attempt it repeats.

    Returns {"attempt_id", "rerun_attempt_id", "run_id", "old", "new", "same_answer",
    "same_verdict", "notes"}. "new" is None when the re-run was stopped before it stored a
    result, and "notes" lists what differs between the two runs besides the sampling.
    """
    column = final.columns[record.technique]
    old = {name: getattr(record, name) for name in _RESULT_FIELDS}
    new = None
    if column.result is not None:
        result = column.result
        new = {
            "answer": result.answer,
            "verdict": str(result.verdict),
            "completion_tokens": result.completion_tokens,
            "seconds": round(result.seconds, 3),
        }
    new_run = store.get_run(final.run_id) if final.run_id is not None else None
    return {
        "attempt_id": record.id,
        "rerun_attempt_id": column.attempt_id,
        "run_id": final.run_id,
        "old": old,
        "new": new,
        "same_answer": new is not None and new["answer"] == old["answer"],
        "same_verdict": new is not None and new["verdict"] == old["verdict"],
        "notes": reproducibility_notes(record.run, new_run) if new_run is not None else [],
    }


def reproducibility_notes(old: RunRecord, new: RunRecord) -> list[str]:
    """List what differs between two runs that can change the generated text: model, hardware, packages."""
    notes = [
        f"{label} differs: {getattr(old, name)} then, {getattr(new, name)} now"
        for name, label in _RUN_FIELDS.items()
        if getattr(old, name) != getattr(new, name)
    ]
    old_template, new_template = old.settings.get("chat_template_hash"), new.settings.get("chat_template_hash")
    if old_template != new_template:
        notes.append("the chat template differs")
    for package in sorted(set(old.package_versions) | set(new.package_versions)):
        before, after = old.package_versions.get(package), new.package_versions.get(package)
        if before != after:
            notes.append(f"{package} differs: {before} then, {after} now")
    return notes
