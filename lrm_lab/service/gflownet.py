"""Train a GFlowNet sampler for a reasoning-gym family, save it under storage/adapters/, and find saved ones.

`train_gflownet` is a generator the Train tab and ``python -m lrm_lab train-gflownet`` both
drive: it yields a `TrainProgress` after every step, with the curves so far, and stops at the
next step boundary when its cancel flag is set. The adapter's row in the database is written
first (status "training"), updated every step, and finished as "finished", "stopped" or
"failed". The files are saved when at least one step was taken.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from lrm_lab.errors import InputError
from lrm_lab.models.base import FlowSettings, LoraSettings, ModelBackend, ModelInfo
from lrm_lab.models.gflownet import LAB_FILE
from lrm_lab.store import AdapterRecord, Store, check_adapter_name
from lrm_lab.tasks.families import FAMILIES, make_question
from lrm_lab.tasks.question import Question, normalise_question
from lrm_lab.techniques.flow_training import LoopSettings, StepRecord, train_flow
from lrm_lab.techniques.gflownet import GFlowNetTrainOptions, chain_reward
from lrm_lab.techniques.prompts import chain_of_thought
from lrm_lab.techniques.result import AdapterChoice

log = logging.getLogger(__name__)
T = TypeVar("T")

ADAPTER_DIR_VARIABLE = "LRM_LAB_ADAPTER_DIR"
DEFAULT_ADAPTER_DIR = Path(__file__).resolve().parents[2] / "storage" / "adapters"
# Training problems take their seeds from [2^30, 2^31). Questions picked in the Compare and
# Benchmark tabs start at seed 0 and TTT's siblings use [2^31, 2^32), so neither meets them.
TRAIN_SEED_LOW, TRAIN_SEED_HIGH = 2**30, 2**31
CPU_BUDGET_NOTE = ("The defaults train in about 3 minutes (within a 5-minute budget) on a 2-core CPU with the "
                   "embedded model, too few steps to change it much. More steps, "
                   "problems, chains or tokens are for a GPU.")


def adapter_dir() -> Path:
    """Return $LRM_LAB_ADAPTER_DIR, or storage/adapters in the repository root."""
    return Path(os.environ.get(ADAPTER_DIR_VARIABLE) or DEFAULT_ADAPTER_DIR)


@dataclass
class TrainProgress:
    """The state of a training run after a step, for the progress bar, the curves and the final message."""

    adapter: AdapterRecord
    steps: int  # planned steps
    curves: dict[str, list[float]] = field(default_factory=dict)
    message: str = ""
    done: bool = False
    elapsed: float = 0.0

    @property
    def fraction(self) -> float:
        return len(self.curves.get("loss", [])) / self.steps if self.steps else 0.0


def training_problems(family: str, count: int, seed: int) -> list[Question]:
    """Generate ``count`` distinct problems of the family with seeds drawn from the training range."""
    rng = random.Random(f"gflownet-problems/{family}/{seed}")
    settings = FAMILIES[family].defaults
    problems, seen = [], set()
    for _ in range(count * 20):
        question = make_question(family, settings, rng.randrange(TRAIN_SEED_LOW, TRAIN_SEED_HIGH))
        if question.text not in seen:
            seen.add(question.text)
            problems.append(question)
        if len(problems) == count:
            return problems
    raise InputError(f"{family} gave only {len(problems)} distinct problems in {count * 20} tries; "
                     f"train on fewer problems.")


def count(number: int, noun: str) -> str:
    """Return "1 step" or "3 steps"."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def default_name(family: str) -> str:
    return f"gflownet-{family}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}"


def train_gflownet(store: Store, model: ModelBackend, family: str, options: GFlowNetTrainOptions,
                   name: str = "", cancel: threading.Event | None = None,
                   folder_root: Path | None = None) -> Iterator[TrainProgress]:
    """Train a sampler for ``family`` on ``model``, yielding progress after every step; see the module docstring."""
    cancel = cancel or threading.Event()
    if family not in FAMILIES:
        raise InputError(f"Unknown family {family!r}; choose from {', '.join(FAMILIES)}.")

    # 1. Check everything before anything is stored: the name, its folder, the adapter's layers.
    name = check_adapter_name((name or "").strip() or default_name(family))
    if store.get_adapter_by_name(name) is not None:
        raise InputError(f"An adapter called {name!r} exists already; choose another name.")
    folder = (folder_root or adapter_dir()) / name
    if folder.exists():
        raise InputError(f"The folder {folder} exists already; choose another name or remove it.")
    lora = LoraSettings(rank=options.rank, alpha=options.alpha, target_modules=options.module_names(),
                        learning_rate=options.learning_rate, seed=options.seed)
    model.check_adapter(lora)
    problems = training_problems(family, options.problems, options.seed)

    # 2. The adapter's row, before training starts, so that a crash leaves a trace.
    settings = dataclasses.asdict(options) | {
        "family_settings": FAMILIES[family].defaults,
        "problem_seeds": [problem.seed for problem in problems],
        # The texts too: two seeds can give the same question, and a column flags a question trained on.
        "problem_texts": [normalise_question(problem.text) for problem in problems],
        "chat_template_hash": model.info.chat_template_hash,
    }
    record = store.create_adapter(name=name, kind="gflownet", family=family, base_model_id=model.info.model_id,
                                  base_model_revision=model.info.revision, base_model_name=model.info.display_name,
                                  path=str(folder), settings=settings)
    progress = TrainProgress(record, options.steps, {"loss": [], "log_z": [], "mean_reward": [], "seconds": []},
                             message=f"Training {name}: {count(len(problems), 'problem')} of {family}")
    yield progress

    # 3. Train, saving the adapter at the end (also after Stop, when a step was taken).
    start = time.perf_counter()
    status, error = "failed", None
    try:
        yield from _train(store, model, problems, options, lora, progress, cancel, folder)
        status = "stopped" if cancel.is_set() else "finished"
    except Exception as failure:
        error = f"{type(failure).__name__}: {failure}"
        raise
    except BaseException:  # Ctrl-C in the CLI, or the page closed: the with block removed the adapter
        status = "stopped"
        raise
    finally:
        seconds = time.perf_counter() - start
        if status == "stopped" and progress.curves["loss"] and not (folder / LAB_FILE).is_file():
            status, error = "failed", "interrupted before the adapter was saved"
        if status != "finished" and not progress.curves["loss"]:
            shutil.rmtree(folder, ignore_errors=True)
        progress.adapter = store.finish_adapter(record.id, status=status, train_seconds=round(seconds, 3),
                                                error=error)
        progress.elapsed, progress.done = seconds, True
        steps = len(progress.curves["loss"])
        progress.message = {
            "finished": f"Trained {name} in {seconds:.0f} s ({count(steps, 'step')}).",
            "stopped": f"Stopped after {steps} of {count(options.steps, 'step')}; "
                       + (f"the adapter so far is saved as {name}." if steps else "nothing was saved."),
            "failed": f"Training failed: {error}",
        }[status]
    yield progress


def _train(store: Store, model: ModelBackend, problems: list[Question], options: GFlowNetTrainOptions,
           lora: LoraSettings, progress: TrainProgress, cancel: threading.Event, folder: Path
           ) -> Iterator[TrainProgress]:
    flow = FlowSettings(objective=options.objective, problems=len(problems),
                        log_z_learning_rate=options.log_z_learning_rate, decay_steps=options.steps)
    loop = LoopSettings(steps=options.steps, batch_size=options.batch_size, max_new_tokens=options.max_new_tokens,
                        explore_probability=options.explore_probability,
                        explore_temperature=options.explore_temperature,
                        replay_probability=options.replay_probability, seed=options.seed)
    chats = [chain_of_thought(problem) for problem in problems]
    start = time.perf_counter()
    with model.flow_adapter(lora, flow, options.likelihood_weight) as trainer:
        def reward(index, completion):
            return chain_reward(problems[index], completion, options, options.objective == "subtb", trainer.decode)

        for record in train_flow(model, trainer, chats, reward, loop, cancel):
            _record_step(progress, record, options.steps, time.perf_counter() - start)
            store.update_adapter_progress(progress.adapter.id, steps_done=record.step, curves=progress.curves)
            yield progress
        if progress.curves["loss"]:
            trainer.save(folder, {"name": folder.name, "family": problems[0].family,
                                  "steps_done": len(progress.curves["loss"])})


def _record_step(progress: TrainProgress, record: StepRecord, steps: int, elapsed: float) -> None:
    curves = progress.curves
    curves["loss"].append(round(record.loss, 5))
    curves["log_z"].append(round(record.log_z, 4))
    curves["mean_reward"].append(round(record.mean_score, 4))
    curves["seconds"].append(round(elapsed, 2))
    left = elapsed / record.step * (steps - record.step)
    batch = "replayed chains" if record.source == "replay" else f"chains sampled at temperature {record.temperature:g}"
    progress.elapsed = elapsed
    progress.message = (f"Step {record.step} of {steps} ({batch}): loss {record.loss:.3f}, log Z {record.log_z:.2f}, "
                        f"mean reward {record.mean_score:.2f}; about {left:.0f} s left")


class StoreAdapters:
    """The adapters table as the techniques' AdapterSource."""

    def __init__(self, store: Store):
        self.store = store

    def find(self, kind: str, name: str | None, family: str | None, model: ModelInfo) -> AdapterChoice:
        if name:
            record = self.store.get_adapter_by_name(name.strip())
            if record is None or record.kind != kind:
                raise InputError(f"No {kind} adapter is called {name!r}; see the Train tab or "
                                 "`python -m lrm_lab adapters` for the trained ones.")
            if (record.base_model_id, record.base_model_revision) != (model.model_id, model.revision):
                raise InputError(f"Adapter {record.name!r} was trained on {record.base_model_name!r}, not on the "
                                 f"loaded {model.display_name!r}; load that model or pick another adapter.")
            if record.status not in ("finished", "stopped"):
                raise InputError(f"Adapter {record.name!r} is {record.status}; pick a finished one.")
        else:
            record = self.store.newest_adapter(kind=kind, family=family, base_model_id=model.model_id,
                                               base_model_revision=model.revision)
            if record is None:
                raise InputError(
                    f"No {kind} adapter is trained for {family or 'typed questions'} on {model.display_name}. "
                    f"Train one in the Train tab or with `python -m lrm_lab train-gflownet --family "
                    f"{family or 'NAME'}`, or name one with the adapter option."
                )
        if not Path(record.path).is_dir():
            raise InputError(f"The files of adapter {record.name!r} are missing from {record.path}; train it again.")
        return AdapterChoice(record.name, record.path, record.family, dict(record.settings), record.steps_done)


def adapter_rows(store: Store, model: ModelInfo | None = None) -> list[dict[str, Any]]:
    """Return the stored GFlowNet adapters as table rows, newest first; ``model`` marks the usable ones."""
    rows = []
    for record in store.list_adapters(kind="gflownet"):
        usable = model is not None and (record.base_model_id, record.base_model_revision) == (
            model.model_id, model.revision) and record.status in ("finished", "stopped")
        curves = record.curves or {}
        rewards = curves.get("mean_reward") or []
        rows.append({
            "name": record.name, "family": record.family, "base model": record.base_model_name,
            "status": record.status, "steps": record.steps_done,
            "objective": record.settings.get("objective"),
            "final mean reward": rewards[-1] if rewards else None,
            "seconds": record.train_seconds, "created": record.created_at.strftime("%Y-%m-%d %H:%M"),
            "usable here": usable,
        })
    return rows


def _snapshot(update: TrainProgress) -> TrainProgress:
    """Copy an update with its curves, which the next training step appends to."""
    return dataclasses.replace(update, curves={key: list(values) for key, values in update.curves.items()})


def training_thread(steps: Iterator[TrainProgress], cancel: threading.Event) -> Iterator[TrainProgress]:
    """Drive ``train_gflownet``'s generator in one worker thread and yield a copy of each update, taken there."""
    return run_in_thread(steps, cancel, _snapshot)


def run_in_thread(steps: Iterator[T], cancel: threading.Event, snapshot: Callable[[T], T]) -> Iterator[T]:
    """Drive ``steps`` in one worker thread and yield ``snapshot`` of each update, taken in that thread.

    Training holds the model's lock, a threading.RLock, from its first step to its last, and
    Gradio resumes a synchronous generator on any thread of its pool, so the training generator
    must run on one thread of its own. When the caller stops early because the page closed, the
    cancel flag ends training at its next check. The worker is not joined, so that the event
    loop never waits for a step to end.
    """
    updates: queue.Queue = queue.Queue()

    def work() -> None:
        try:
            for update in steps:
                updates.put(("update", snapshot(update)))
        except BaseException as error:  # noqa: BLE001 (re-raised in the caller's thread)
            updates.put(("error", error))
        else:
            updates.put(("done", None))

    worker = threading.Thread(target=work, name="lrm-lab-train-gflownet", daemon=True)
    worker.start()
    kind = "update"
    try:
        while kind == "update":
            kind, value = updates.get()
            if kind == "update":
                yield value
            elif kind == "error":
                raise value
    finally:
        if kind == "update":  # the caller stopped before the worker ended
            cancel.set()
