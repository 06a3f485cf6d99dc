"""`train-gflownet`: train a GFlowNet sampler for a family; `adapters`: list the trained ones.

    python -m lrm_lab train-gflownet --family basic_arithmetic
    python -m lrm_lab train-gflownet --family leg_counting --steps 200 --problems 64 --model Qwen/Qwen2.5-0.5B-Instruct
    python -m lrm_lab adapters
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from lrm_lab.errors import InputError
from lrm_lab.store import check_adapter_name
from lrm_lab.tasks.families import FAMILIES
from lrm_lab.techniques.gflownet import GFlowNetTrainOptions
from lrm_lab.techniques.options import option_fields, parse_options


def add_parsers(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train-gflownet",
        help="train a GFlowNet sampler (a LoRA adapter) for a reasoning-gym family",
        description="Train a LoRA adapter that samples reasoning chains in proportion to their reward, on problems "
                    "generated from the family with seeds that evaluation questions never use. The defaults take "
                    "about 3 minutes (within a 5-minute budget) on a 2-core CPU with the embedded model; larger settings are for a GPU. "
                    "Ctrl-C stops after the running step and keeps what was trained.",
    )
    train.add_argument("--family", required=True, help=f"reasoning-gym family: {', '.join(FAMILIES)}")
    train.add_argument("--name", default="", help="adapter name (letters, digits, - _ .); default "
                                                  "gflownet-FAMILY-DATE-TIME")
    train.add_argument("--model", default="embedded", help="embedded, a hub id, a model folder or a .gguf file")
    train.add_argument("--json", action="store_true", help="print the adapter's row as one JSON object at the end")
    train.add_argument("--no-progress", action="store_true", help="hide the per-step lines on stderr")
    group = train.add_argument_group("training settings")
    for field in option_fields(GFlowNetTrainOptions):
        meta = field.metadata
        kwargs: dict[str, Any] = {"type": type(field.default), "default": None, "metavar": field.name.upper(),
                                  "help": f"{meta['help']} (default {field.default})"}
        if meta.get("choices"):
            kwargs["choices"] = meta["choices"]
        group.add_argument(f"--{field.name.replace('_', '-')}", dest=f"train_{field.name}", **kwargs)

    adapters = commands.add_parser("adapters", help="list or delete the trained adapters",
                                   description="List the trained GFlowNet adapters, newest first, or delete one.")
    adapters.add_argument("--json", action="store_true", help="print one JSON array")
    adapters.add_argument("--delete", metavar="NAME", help="delete this adapter's row and folder, for example one "
                                                          "left 'training' by a process that was killed")


def run_train(args: argparse.Namespace) -> int:
    from lrm_lab.service.gflownet import count, train_gflownet
    from lrm_lab.service.lab import Lab

    if args.family not in FAMILIES:
        raise InputError(f"Unknown family {args.family!r}; choose from {', '.join(FAMILIES)}.")
    values = {field.name: getattr(args, f"train_{field.name}") for field in option_fields(GFlowNetTrainOptions)}
    options = parse_options(GFlowNetTrainOptions, values, "train-gflownet")

    lab = Lab()
    if args.name.strip():  # a bad or taken name fails now, not after the 20 s model load
        name = check_adapter_name(args.name)
        if lab.store.get_adapter_by_name(name) is not None:
            raise InputError(f"An adapter called {name!r} exists already; choose another name.")
    model = lab.slot.load(args.model)
    cancel = threading.Event()

    def stop(signum, frame) -> None:
        # The first Ctrl-C stops at the next step boundary, and the service saves what was trained;
        # a second one interrupts at once.
        cancel.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("Stopping after this step (Ctrl-C again to quit at once) ...", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, stop)
    previous_term = signal.signal(signal.SIGTERM, stop)  # `timeout` and `docker stop` send SIGTERM
    progress = None
    try:
        for progress in train_gflownet(lab.store, model, args.family, options, name=args.name, cancel=cancel,
                                       folder_root=lab.adapter_dir):
            if not args.no_progress:
                print(progress.message, file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
    record = progress.adapter
    if args.json:
        print(json.dumps(adapter_json(record), ensure_ascii=False))
    else:
        print(f"{record.name}: {record.status}, {count(record.steps_done, 'step')} in {record.train_seconds:.0f} s, "
              f"saved in {record.path}")
    return 0 if record.status == "finished" else 1


def run_adapters(args: argparse.Namespace) -> int:
    from lrm_lab.service.lab import Lab

    store = Lab().store
    if args.delete:
        record = store.get_adapter_by_name(args.delete.strip())
        if record is None:
            raise InputError(f"No adapter is called {args.delete!r}; `python -m lrm_lab adapters` lists them.")
        if record.status == "training":
            print(f"warning: {record.name} is marked as training; a process still training it will fail.",
                  file=sys.stderr)
        store.delete_adapter(record.id)
        folder = Path(record.path)
        if folder.name == record.name:  # the folder the service made; never a path that names something else
            shutil.rmtree(folder, ignore_errors=True)
        print(f"Deleted adapter {record.name} and its folder {record.path}.")
        return 0
    records = store.list_adapters(kind="gflownet")
    if args.json:
        print(json.dumps([adapter_json(record) for record in records], ensure_ascii=False))
        return 0
    if not records:
        print("No adapters yet; train one with: python -m lrm_lab train-gflownet --family basic_arithmetic")
    for record in records:
        rewards = record.curves.get("mean_reward") or [None]
        print(f"{record.name}  family={record.family} model={record.base_model_name} status={record.status} "
              f"steps={record.steps_done} objective={record.settings.get('objective')} "
              f"last mean reward={rewards[-1]} created={record.created_at:%Y-%m-%d %H:%M}")
    return 0


def adapter_json(record) -> dict[str, Any]:
    return {
        "id": record.id, "name": record.name, "kind": record.kind, "family": record.family,
        "base_model_id": record.base_model_id, "base_model_revision": record.base_model_revision,
        "status": record.status, "steps_done": record.steps_done, "train_seconds": record.train_seconds,
        "path": record.path, "settings": record.settings, "curves": record.curves, "error": record.error,
        "created_at": record.created_at.isoformat(),
    }
