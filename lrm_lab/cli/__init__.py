"""Headless commands over the same service functions as the web UI.

    python -m lrm_lab compare --family basic_arithmetic --seed 3 --technique baseline --technique search --json
    python -m lrm_lab compare --question "What is 17 * 3?" --answer 51 --technique search --n 8
    python -m lrm_lab history --limit 20
    python -m lrm_lab show 42
    python -m lrm_lab bench --family basic_arithmetic --n 50 --technique baseline --technique search:n=8 --json
    python -m lrm_lab export --run 12 --format csv
    python -m lrm_lab memory list --namespace model:embedded
    python -m lrm_lab train-gflownet --family basic_arithmetic
    python -m lrm_lab adapters

Each command lives in its own module with an ``add_parser`` (or ``add_parsers``) and a ``run``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from lrm_lab.cli import bench, compare, history, memory, train
from lrm_lab.errors import InputError, ModelLoadError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lrm_lab", description="LRM Lab from the command line.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and model loading to stderr")
    commands = parser.add_subparsers(dest="command", required=True)
    compare.add_parser(commands)
    history.add_parsers(commands)
    bench.add_parsers(commands)
    memory.add_parser(commands)
    train.add_parsers(commands)
    return parser


INTERRUPTED = 130  # the shell's exit status after Ctrl-C

COMMANDS = {
    "compare": compare.run,
    "history": history.run_history,
    "show": history.run_show,
    "runs": history.run_runs,
    "rescore": history.run_rescore,
    "rerun": history.run_rerun,
    "bench": bench.run_bench,
    "export": bench.run_export,
    "memory": memory.run,
    "train-gflownet": train.run_train,
    "adapters": train.run_adapters,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    try:
        return COMMANDS[args.command](args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ModelLoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except BrokenPipeError:
        # The reader of stdout (such as `head`) closed it: stop quietly, as Unix tools do.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (so that the exit flush cannot fail again)
        return 0
    except KeyboardInterrupt:
        # Attempts are committed as they finish, so an interrupt loses only the running one.
        print("Interrupted.", file=sys.stderr)
        return INTERRUPTED
