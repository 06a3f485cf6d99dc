"""The bench and export commands: run recipes over a question set, and export stored runs.

    python -m lrm_lab bench --family basic_arithmetic --n 50 --technique baseline --technique search:n=8 --json
    python -m lrm_lab bench --file questions.jsonl --technique baseline --repeats 3
    python -m lrm_lab bench --family basic_arithmetic --rounds 3 --technique baseline --technique memory
    python -m lrm_lab bench --resume 12
    python -m lrm_lab export --run 12 --format csv > run12.csv
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lrm_lab.cli.compare import add_option_flags, option_flags, option_owners
from lrm_lab.errors import InputError
from lrm_lab.tasks.families import FAMILIES

SUMMARY_KEYS = ("recipe", "n", "correct", "accuracy", "ci_low", "ci_high", "unparsed", "mean_tokens", "mean_seconds",
                "errors", "uses_reference", "any_correct")
INTERRUPTED = 130  # the shell's exit status after Ctrl-C


def add_parsers(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench", help="run recipes over a question set and store every attempt",
        description="Run one or more recipes over a question set. Each --technique is one recipe, written "
        "TECHNIQUE[:OPTION=VALUE,...], e.g. baseline, search:n=8 or search:n=8,strategy=best_of_n_self; "
        "join techniques with + to compose them, e.g. memory+search:n=8.",
    )
    source = bench.add_mutually_exclusive_group(required=True)
    source.add_argument("--family", help=f"reasoning-gym family: {', '.join(FAMILIES)}")
    source.add_argument("--file", type=Path, help="JSONL file, one {\"question\", \"answer\", \"id\", \"family\"} per line")
    source.add_argument("--resume", type=int, metavar="RUN_ID", help="run the unfinished items of a stored benchmark")
    bench.add_argument("--settings", default="", help='family size settings as JSON, e.g. \'{"max_digits": 3}\'')
    bench.add_argument("--n", type=int, default=20, help="number of family questions (default 20)")
    bench.add_argument("--first-seed", type=int, default=0, help="seed of the first family question; seeds count up from it")
    bench.add_argument("--technique", action="append", metavar="RECIPE", help="a recipe to run; repeat for several (default baseline)")
    bench.add_argument("--repeats", type=int, default=1, help="attempts per question and recipe, with seeds seed, seed+1, ...")
    bench.add_argument("--seed", type=int, default=0, help="sampling seed of the first repeat")
    bench.add_argument("--rounds", type=int, default=1,
                       help="run the whole question set this many times in order (default 1); a memory recipe "
                       "reads in each round what it wrote in the rounds before, so accuracy per round is a retry curve")
    bench.add_argument("--namespace", help="memory namespace that memory recipes read and write "
                       "(default: the model's own, model:<model id>)")
    bench.add_argument("--no-memory-writes", action="store_true",
                       help="memory recipes read memory but write nothing to it")
    bench.add_argument("--model", help="embedded (the default), a hub id, a model folder or a .gguf file; "
                       "with --resume, the run's own model")
    bench.add_argument("--yes", action="store_true", help="start without asking, even above the time threshold")
    bench.add_argument("--json", action="store_true", help="print the summary as one JSON object to stdout")
    bench.add_argument("--no-progress", action="store_true", help="hide the progress bar on stderr")
    # --n is the number of questions here, so search's sample count is set per recipe (search:n=8).
    add_option_flags(bench, skip=("n",))

    export = commands.add_parser("export", help="print a run's attempts or summary as CSV or JSONL")
    export.add_argument("--run", type=int, required=True, metavar="RUN_ID", help="the run to export")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="output format (default csv)")
    export.add_argument("--summary", action="store_true", help="one row per recipe instead of one per attempt")


def run_bench(args: argparse.Namespace) -> int:
    from lrm_lab.service.benchmark import load_plan, plan_benchmark, start_benchmark
    from lrm_lab.service.estimate import confirm_threshold, estimate_benchmark
    from lrm_lab.service.lab import Lab

    confirm_threshold()  # reject an invalid LRM_LAB_CONFIRM_SECONDS before the model loads
    lab = Lab()
    if args.resume is not None:
        plan, run_id = load_plan(lab.store, args.resume), args.resume
        stored = frozenset(a.item for a in lab.store.run_attempts(run_id) if a.item is not None)
        model_id = lab.store.get_run(run_id).model_id
        if args.model is not None and args.model != model_id:
            raise InputError(f"Run {run_id} used the model {model_id}; resume it without --model, or with --model {model_id}.")
        if len(stored) == plan.total:
            print(f"Run {run_id} has every attempt stored already.", file=sys.stderr)
            _print_summary(lab.store, run_id, args.json)
            return 0
    else:
        request = _request(args)
        plan, run_id, stored, model_id = plan_benchmark(request), None, frozenset(), args.model or "embedded"

    print(f"Loading {model_id} ...", file=sys.stderr)
    model = lab.slot.load(model_id)
    estimate = estimate_benchmark(plan, model, lab.store, skip=stored)
    print(estimate.text(), file=sys.stderr)
    if estimate.needs_confirmation and not args.yes and not _confirm():
        raise InputError("Not started. Pass --yes to start a run above the time threshold (LRM_LAB_CONFIRM_SECONDS).")

    if run_id is None:
        run_id = start_benchmark(plan, model, lab.store, request.memory)
    print(f"Benchmark run {run_id}: resume it with `python -m lrm_lab bench --resume {run_id}`", file=sys.stderr)
    status = _run_with_progress(run_id, model, lab, args.no_progress)
    _print_summary(lab.store, run_id, args.json)
    return INTERRUPTED if status == "interrupted" else 0


def _request(args: argparse.Namespace):
    from lrm_lab.service.benchmark import BenchmarkRequest, FamilySet
    from lrm_lab.service.memory import MemorySettings
    from lrm_lab.tasks.families import parse_settings
    from lrm_lab.techniques.recipe import parse_recipe

    defaults = {name: getattr(args, f"option_{name}") for name in option_flags() if name != "n"}
    recipes = tuple(parse_recipe(spec, defaults) for spec in (args.technique or ["baseline"]))
    _check_flags_used(defaults, recipes)
    if args.file is not None:
        questions = _read_question_file(args.file)
    else:
        questions = FamilySet(args.family, parse_settings(args.settings), args.first_seed, args.n)
    memory = MemorySettings(args.namespace, writes=not args.no_memory_writes)
    return BenchmarkRequest(questions, recipes, args.repeats, args.seed, args.rounds, memory)


def _check_flags_used(defaults: dict, recipes: tuple) -> None:
    """Raise InputError for an option flag that no recipe's technique has, instead of ignoring it."""
    used = {name for recipe in recipes for name in recipe.techniques}
    for name, value in defaults.items():
        owners = option_owners(name)
        if value is None or used.intersection(owners):
            continue
        flag = f"--{name.replace('_', '-')}"
        raise InputError(f"{flag} is an option of {' and '.join(owners)}, and no --technique uses it: "
                         f"add a recipe such as --technique {owners[0]}, or leave {flag} out.")


def _read_question_file(path: Path):
    from lrm_lab.tasks.question_file import MAX_FILE_BYTES, parse_question_file

    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"{path} is {size:,} bytes; the maximum is {MAX_FILE_BYTES:,}.")
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"Cannot read {path}: {error.strerror}.") from None
    parsed = parse_question_file(data, path.name)
    for error in parsed.errors:
        print(f"warning: {path.name} line {error.line}: {error.message} (line skipped)", file=sys.stderr)
    return parsed


def _confirm() -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input("Start it? [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:  # Ctrl-D at the prompt
        return False


def _run_with_progress(run_id: int, model, lab, hide: bool) -> str:
    """Run the benchmark with a progress bar and ETA on stderr; return its final status."""
    from tqdm import tqdm

    from lrm_lab.service.benchmark import run_benchmark

    updates = run_benchmark(run_id, model, lab.store)
    status, bar = "running", None
    try:
        for update in updates:
            if bar is None:  # start at the attempts a resumed run already has, so the rate and ETA are right
                bar = tqdm(total=update.total, initial=update.done, unit="attempt", file=sys.stderr, disable=hide)
            bar.update(update.done - bar.n)
            bar.set_description(update.message[:50], refresh=False)
            status = update.status
    except KeyboardInterrupt:
        updates.close()  # marks the run cancelled; finished attempts are already stored
        status = "interrupted"
    finally:
        if bar is not None:
            bar.close()
    if status != "finished":
        print(f"Stopped. Resume with `python -m lrm_lab bench --resume {run_id}`.", file=sys.stderr)
    return status


def _print_summary(store, run_id: int, as_json: bool) -> None:
    from lrm_lab.service.results import summarize_run

    summary = summarize_run(store, run_id)
    recipes = [{key: recipe[key] for key in SUMMARY_KEYS} for recipe in summary["recipes"]]
    if as_json:
        for recipe, full in zip(recipes, summary["recipes"]):
            if "by_round" in full:
                recipe["by_round"] = full["by_round"]
        print(json.dumps({"run_id": run_id, "status": summary["status"], "done": summary["done"],
                          "total": summary["total"], "rounds": summary["rounds"], "memory": summary["memory"],
                          "recipes": recipes}, ensure_ascii=False))
        return
    print(f"Run {run_id} ({summary['status']}, {summary['done']} of {summary['total']} attempts)")
    print(f"{'recipe':<32} {'n':>4} {'accuracy':>9} {'95% CI':>15} {'unparsed':>8} {'tokens':>7} {'seconds':>7}")
    for recipe in recipes:
        if not recipe["n"]:
            print(f"{recipe['recipe']:<32} {0:>4}  (no scored attempts)")
            continue
        interval = f"{recipe['ci_low']:.0%}-{recipe['ci_high']:.0%}"
        print(f"{recipe['recipe']:<32} {recipe['n']:>4} {recipe['accuracy']:>9.1%} {interval:>15} "
              f"{recipe['unparsed']:>8} {recipe['mean_tokens']:>7.1f} {recipe['mean_seconds']:>7.2f}")
    if summary["rounds"] > 1:
        _print_rounds(summary)


def _print_rounds(summary: dict) -> None:
    """Print accuracy per round for each recipe: the retry curve."""
    memory = summary["memory"]
    print(f"\nAccuracy per round (memory writes {'on' if memory['writes'] else 'off'}, "
          f"namespace {memory['namespace'] or 'none'})")
    print(f"{'recipe':<32} " + " ".join(f"{'round ' + str(r + 1):>16}" for r in range(summary["rounds"])))
    for recipe in summary["recipes"]:
        cells = []
        for row in recipe["by_round"]:
            cells.append(f"{row['correct']}/{row['n']} = {row['accuracy']:.0%}" if row["n"] else "no attempts")
        print(f"{recipe['recipe']:<32} " + " ".join(f"{cell:>16}" for cell in cells))
        if recipe["by_round"] and recipe["by_round"][0]["used_memory"] is not None:
            shares = [f"{row['used_memory']:.0%}" if row["n"] else "" for row in recipe["by_round"]]
            print(f"{'  shown a memory':<32} " + " ".join(f"{share:>16}" for share in shares))
    print("The 95% intervals per round are in --json (ci_low, ci_high).")


def run_export(args: argparse.Namespace) -> int:
    from lrm_lab.service.export import export_attempts, export_summaries
    from lrm_lab.store import Store

    store = Store()
    if args.summary:
        sys.stdout.write(export_summaries(store, [args.run], args.format))
    else:
        sys.stdout.write(export_attempts(store, args.run, args.format))
    return 0
