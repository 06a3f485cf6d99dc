"""Headless commands over the same service functions as the web UI.

    python -m lrm_lab compare --family basic_arithmetic --seed 3 --technique baseline --technique search --json
    python -m lrm_lab compare --question "What is 17 * 3?" --answer 51 --technique search --n 8
    python -m lrm_lab history --limit 20
    python -m lrm_lab show 42
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from typing import Any

from lrm_lab.errors import InputError, ModelLoadError
from lrm_lab.tasks.families import FAMILIES
from lrm_lab.techniques import TECHNIQUES
from lrm_lab.techniques.options import option_fields


def option_flags() -> dict[str, dataclasses.Field]:
    """Collect every technique option once, by name, to expose as a --flag."""
    flags: dict[str, dataclasses.Field] = {}
    for technique in TECHNIQUES.values():
        for field in option_fields(technique.options_type):
            flags.setdefault(field.name, field)
    return flags


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lrm_lab", description="LRM Lab from the command line.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and model loading to stderr")
    commands = parser.add_subparsers(dest="command", required=True)

    compare = commands.add_parser("compare", help="run techniques side by side on one question and store them")
    source = compare.add_mutually_exclusive_group(required=True)
    source.add_argument("--family", help=f"reasoning-gym family: {', '.join(FAMILIES)}")
    source.add_argument("--question", help="a question of your own")
    compare.add_argument("--answer", help="reference answer of --question (omit for an unverified run)")
    compare.add_argument("--settings", default="", help='family size settings as JSON, e.g. \'{"max_digits": 3}\'')
    compare.add_argument("--seed", type=int, default=0, help="seed of the generated question (the page's question seed)")
    compare.add_argument("--sample-seed", type=int, default=0, help="seed of sampling (the page's sampling seed)")
    compare.add_argument(
        "--technique", action="append", choices=sorted(TECHNIQUES), help="technique to run; repeat for several"
    )
    compare.add_argument("--model", default="embedded", help="embedded, a hub id, a model folder or a .gguf file")
    compare.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    compare.add_argument("--no-progress", action="store_true", help="hide the progress bar on stderr")
    for name, field in option_flags().items():
        meta = field.metadata
        kwargs: dict[str, Any] = {"type": type(field.default), "help": f"{meta['help']} (default {field.default})"}
        if meta.get("choices"):
            kwargs["choices"] = meta["choices"]
            kwargs["help"] = f"{meta['help']} One of {', '.join(meta['choices'])} (default {field.default})"
        compare.add_argument(f"--{name.replace('_', '-')}", dest=f"option_{name}", metavar=name.upper(), **kwargs)

    history = commands.add_parser("history", help="list stored attempts, newest first")
    history.add_argument("--limit", type=int, default=20, help="number of attempts to list")
    history.add_argument("--technique", help="only attempts of this technique")
    history.add_argument("--family", help="only questions of this reasoning-gym family")
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")

    show = commands.add_parser("show", help="print one stored attempt with its full trace as JSON")
    show.add_argument("attempt_id", type=int)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    try:
        if args.command == "compare":
            return run_compare(args)
        if args.command == "history":
            return run_history(args)
        return run_show(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ModelLoadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3


def run_compare(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lrm_lab.service.compare import CompareRequest, comparison_json, plan_comparison, run_comparison
    from lrm_lab.service.lab import Lab
    from lrm_lab.service.questions import build_question

    if args.question is not None:
        question = build_question("typed", text=args.question, reference=args.answer)
    elif args.answer is not None:
        raise InputError("--answer goes with --question; a --family question brings its own reference answer.")
    else:
        question = build_question("family", args.family, args.settings, args.seed)
    techniques = tuple(args.technique or ["baseline"])
    options = {
        name: {field.name: getattr(args, f"option_{field.name}") for field in option_fields(TECHNIQUES[name].options_type)
               if getattr(args, f"option_{field.name}") is not None}
        for name in techniques
    }
    request = CompareRequest(question, techniques, options, args.sample_seed)
    plan_comparison(request)  # reject bad options before the model loads

    lab = Lab()
    with tqdm(total=100, desc="loading model", unit="%", file=sys.stderr, disable=args.no_progress) as bar:
        model = lab.slot.load(args.model)
        final = None
        for update in run_comparison(request, model, lab.store):
            bar.set_description(update.message[:40])
            bar.update(round(update.fraction * 100) - bar.n)
            final = update

    summary = comparison_json(final)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print_summary(summary)
    return 0


def print_summary(summary: dict) -> None:
    question = summary["question"]
    print(f"Question: {question['text']}")
    print(f"Reference: {question['reference'] if question['reference'] is not None else '(none)'}\n")
    for result in summary["results"]:
        print(
            f"{result['technique']:<10} answer={result['answer']!s:<12} verdict={result['verdict']:<10} "
            f"tokens={result['completion_tokens']:<5} seconds={result['seconds']:.1f}  attempt={result['attempt_id']}"
        )
        if result["error"]:
            print(f"           error: {result['error']}")


def run_history(args: argparse.Namespace) -> int:
    from lrm_lab.service.history import HISTORY_COLUMNS, history_rows
    from lrm_lab.store import Store

    rows = history_rows(Store(), args.limit, args.technique or "", args.family or "")
    if args.json:
        print(json.dumps([dict(zip(HISTORY_COLUMNS, row)) for row in rows], ensure_ascii=False))
        return 0
    for identifier, created, _, technique, _, question, answer, verdict, _, _ in rows:
        # repr() of the texts keeps control characters stored in them from acting on the terminal.
        print(f"{identifier:>6}  {created}  {technique:<9} {verdict:<10} {answer!r:<12} {question[:60]!r}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from lrm_lab.service.history import attempt_dict
    from lrm_lab.store import Store

    print(json.dumps(attempt_dict(Store(), args.attempt_id), ensure_ascii=False, indent=2))
    return 0
