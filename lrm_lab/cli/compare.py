"""The compare command: run techniques side by side on one question and store them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import TYPE_CHECKING, Any

from lrm_lab.errors import InputError
from lrm_lab.tasks.families import FAMILIES
from lrm_lab.techniques import TECHNIQUES
from lrm_lab.techniques.options import option_fields

if TYPE_CHECKING:
    from lrm_lab.service.memory import MemorySettings


def option_flags() -> dict[str, dataclasses.Field]:
    """Collect every technique option once, by name, to expose as a --flag."""
    flags: dict[str, dataclasses.Field] = {}
    for technique in TECHNIQUES.values():
        for field in option_fields(technique.options_type):
            flags.setdefault(field.name, field)
    return flags


def option_owners(name: str) -> list[str]:
    """Return the names of the techniques that have an option called ``name``, in registry order."""
    return [technique.name for technique in TECHNIQUES.values()
            if name in {field.name for field in option_fields(technique.options_type)}]


def add_option_flags(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """Add one --flag per technique option except those in ``skip``, with its help text and choices.

    The flags are grouped by technique in --help. A flag that several techniques share, such as
    --max-new-tokens, sits in the first one's group and names all of them. A flag left out is
    None, so the technique's own default applies. A bool option becomes a pair of switches,
    such as --clean and --no-clean.
    """
    groups: dict[str, argparse._ArgumentGroup] = {}
    for name, field in option_flags().items():
        if name in skip:
            continue
        owners = option_owners(name)
        if owners[0] not in groups:
            technique = TECHNIQUES[owners[0]]
            groups[owners[0]] = parser.add_argument_group(f"{technique.title} options")
        group = groups[owners[0]]
        meta = field.metadata
        shared = ", ".join(owners[:-1]) + f" and {owners[-1]}"
        help_text = meta["help"] if len(owners) == 1 else f"({shared}) {meta['help']}"
        flag = f"--{name.replace('_', '-')}"
        if isinstance(field.default, bool):
            group.add_argument(flag, dest=f"option_{name}", action=argparse.BooleanOptionalAction, default=None,
                               help=f"{help_text} (default {'on' if field.default else 'off'})")
            continue
        kwargs: dict[str, Any] = {"type": type(field.default), "help": f"{help_text} (default {field.default})"}
        if meta.get("choices"):
            kwargs["choices"] = meta["choices"]
            kwargs["help"] = f"{help_text} One of {', '.join(meta['choices'])} (default {field.default})"
        group.add_argument(flag, dest=f"option_{name}", metavar=name.upper(), **kwargs)


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
        "--technique", action="append", metavar="TECHNIQUE",
        help=f"technique of one column: {', '.join(sorted(TECHNIQUES))}, or several joined with +, such as "
        "memory+search or ttt+search; repeat for several columns (default baseline)",
    )
    compare.add_argument("--namespace", help="memory namespace that memory columns read and write "
                         "(default: the model's own, model:<model id>)")
    compare.add_argument("--no-memory-writes", action="store_true",
                         help="memory columns read memory but write nothing to it")
    compare.add_argument("--model", default="embedded", help="embedded, a hub id, a model folder or a .gguf file")
    compare.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    compare.add_argument("--no-progress", action="store_true", help="hide the progress bar on stderr")
    add_option_flags(compare)


def parse_column(spec: str) -> str:
    """Check one --technique value such as "memory+search"; return its techniques in stage order.

    A column without a decoding technique gets baseline ("memory" becomes "memory+baseline"),
    so that decoding flags such as --max-new-tokens reach the technique that decodes it.
    """
    from lrm_lab.techniques.recipe import make_recipe

    if ":" in spec:
        raise InputError(
            f"--technique {spec!r}: compare takes technique names only and sets their options with flags, "
            "such as --technique search --n 8. Recipes written TECHNIQUE:OPTION=VALUE are for bench."
        )
    names = [part.strip() for part in spec.split("+")]
    for name in names:
        if name not in TECHNIQUES:
            problem = f"an unknown technique {name!r}" if name else "an empty technique name"
            raise InputError(
                f"--technique {spec!r} has {problem}; choose from {', '.join(sorted(TECHNIQUES))}, "
                "and join several with +, as in memory+search."
            )
    return make_recipe(names).name


def column_options(args: argparse.Namespace) -> tuple[tuple[str, ...], dict[str, dict[str, Any]]]:
    """Return the columns of --technique and the option flags per technique they use.

    Raises InputError for an option flag that no column's technique has, instead of ignoring it.
    """
    columns = tuple(parse_column(spec) for spec in args.technique or ["baseline"])
    named = sorted({name for column in columns for name in column.split("+")})
    options = {name: option_values(args, name) for name in named}

    used = {option for values in options.values() for option in values}
    for name in option_flags():
        if getattr(args, f"option_{name}") is None or name in used:
            continue
        owners = option_owners(name)
        raise InputError(
            f"--{name.replace('_', '-')} is an option of {' and '.join(owners)}, and no --technique uses it: "
            f"add a column such as --technique {owners[0]}, or leave --{name.replace('_', '-')} out."
        )
    return columns, options


def memory_settings(args: argparse.Namespace, columns: tuple[str, ...]) -> MemorySettings:
    """Return the MemorySettings of --namespace and --no-memory-writes, checked before the model loads."""
    from lrm_lab.service.memory import MemorySettings, check_namespace

    reads_memory = any("memory" in column.split("+") for column in columns)
    if not reads_memory and (args.namespace is not None or args.no_memory_writes):
        flag = "--namespace" if args.namespace is not None else "--no-memory-writes"
        raise InputError(f"{flag} applies to memory columns, and none is given: add --technique memory "
                         f"or --technique memory+search, or leave {flag} out.")
    namespace = check_namespace(args.namespace) if args.namespace is not None else None
    return MemorySettings(namespace, writes=not args.no_memory_writes)


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
    columns, options = column_options(args)
    request = CompareRequest(question, columns, options, args.sample_seed, memory=memory_settings(args, columns))
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
    width = max((len(result["recipe"] or result["technique"]) for result in summary["results"]), default=10)
    for result in summary["results"]:
        print(
            f"{result['recipe'] or result['technique']:<{width}} answer={result['answer']!s:<12} "
            f"verdict={result['verdict']:<10} tokens={result['completion_tokens']:<5} "
            f"seconds={result['seconds']:.1f}  attempt={result['attempt_id']}"
        )
        if "memory" in result["technique"].split("+"):
            print_memory_lines(result)
        if "ttt" in result["technique"].split("+"):
            print_ttt_lines(result)
        if "gflownet" in result["technique"].split("+"):
            print_gflownet_lines(result)
        if result["error"]:
            print(f"    error: {result['error']}")


def print_memory_lines(result: dict) -> None:
    """Print the memories a memory column used, with similarity and source attempt, and the memory it wrote."""
    memory = result["details"].get("memory")
    if memory is None:  # the column failed before its memory stage ran
        return
    hits = memory["hits"]
    if hits:
        print(f"    memories used from namespace {memory['namespace']!r}:")
        for hit in hits:
            source = f"attempt {hit['attempt_id']}" if hit["attempt_id"] is not None else "no stored attempt"
            print(f"      memory {hit['id']:<6} similarity {hit['similarity']:.3f}  from {source}")
    else:
        print(f"    memories used: none with similarity >= {memory['threshold']:g} in namespace {memory['namespace']!r}")
    if result["memory_written"] is not None:
        print(f"    remembered as memory {result['memory_written']}")
    elif result["memory_already_stored"] is not None:
        print(f"    already in memory as memory {result['memory_already_stored']}")
    else:
        print("    not remembered")


def print_ttt_lines(result: dict) -> None:
    """Print what a TTT column trained on, its loss per step, and its answer before adapting."""
    details = result["details"]
    if "variation_list" not in details:  # the column failed before its TTT stage ran
        return
    print(f"    variations: {details['variations']} from {details['variation_source']}")
    for variation in details["variation_list"]:
        print(f"      {variation['source']}, {variation['note']}: answer={variation['answer']} "
              f"question={variation['question'][:60]!r}")
    for line in details["variations_dropped"]:
        print(f"      dropped: {line}")
    losses = ", ".join(f"{loss:.3f}" for loss in details["train_loss"]) or "no step ran"
    print(f"    loss per step: {losses}")
    if "answer_before" in details:
        print(f"    before adapting: answer={details['answer_before']!s} verdict={details['verdict_before']}")
    if details.get("not_adapted"):
        print(f"    not adapted: {details['not_adapted']}")


def print_gflownet_lines(result: dict) -> None:
    """Print a GFlowNet column's adapter, and the distinct answers, correct chains and votes with it and without."""
    details = result["details"]
    if not details.get("adapter"):  # the column failed before an adapter was switched on
        return
    steps = details.get("adapter_steps")
    print(f"    adapter: {details['adapter']} ({details.get('adapter_family')}, {steps} step{'' if steps == 1 else 's'})")
    if details.get("family_note"):
        print(f"    note: {details['family_note']}")
    if details.get("seen_in_training"):
        print("    note: this question was one of the adapter's training problems")
    if details.get("aggregation_note"):
        print(f"    note: {details['aggregation_note']}")
    sides = [("adapter", details | {"tokens": result["completion_tokens"]})]
    if isinstance(details.get("base"), dict):
        sides.append(("base model", details["base"]))
    else:
        print("    base model: not sampled (compare_base off, or stopped first)")
    width = max(len(label) for label, _ in sides)
    for label, side in sides:
        votes = ", ".join(f"{answer}: {count}" for answer, count in (side.get("votes") or {}).items()) or "none"
        print(f"    {label:<{width}}  distinct answers={side.get('distinct_answers')} "
              f"distinct correct chains={side.get('distinct_correct_chains')} "
              f"any correct={'yes' if side.get('any_correct') else 'no'} unparsed={side.get('unparsed_candidates')} "
              f"tokens={side.get('tokens')}  votes: {votes}")
    print("    (distinct correct chains and any correct are graded with the reference after the fact)")
