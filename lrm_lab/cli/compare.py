"""The compare command: run techniques side by side on one question and store them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from lrm_lab.errors import InputError
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


def add_option_flags(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """Add one --flag per technique option except those in ``skip``, with its help text and choices."""
    for name, field in option_flags().items():
        if name in skip:
            continue
        meta = field.metadata
        kwargs: dict[str, Any] = {"type": type(field.default), "help": f"{meta['help']} (default {field.default})"}
        if meta.get("choices"):
            kwargs["choices"] = meta["choices"]
            kwargs["help"] = f"{meta['help']} One of {', '.join(meta['choices'])} (default {field.default})"
        parser.add_argument(f"--{name.replace('_', '-')}", dest=f"option_{name}", metavar=name.upper(), **kwargs)


def option_values(args: argparse.Namespace, technique: str) -> dict[str, Any]:
    """Return the option flags given on the command line that apply to ``technique``."""
    values = {}
    for field in option_fields(TECHNIQUES[technique].options_type):
        value = getattr(args, f"option_{field.name}")
        if value is not None:
            values[field.name] = value
    return values


def add_parser(commands: argparse._SubParsersAction) -> None:
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
    add_option_flags(compare)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lrm_lab.service.compare import (
        CompareRequest,
        comparison_json,
        plan_comparison,
        run_comparison,
    )
    from lrm_lab.service.lab import Lab
    from lrm_lab.service.questions import build_question

    if args.question is not None:
        question = build_question("typed", text=args.question, reference=args.answer)
    elif args.answer is not None:
        raise InputError("--answer goes with --question; a --family question brings its own reference answer.")
    else:
        question = build_question("family", args.family, args.settings, args.seed)
    techniques = tuple(args.technique or ["baseline"])
    options = {name: option_values(args, name) for name in techniques}
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
