"""The history commands: list stored attempts and runs, show one attempt, re-score and re-run them."""

from __future__ import annotations

import argparse
import json
import sys

from lrm_lab.store import RUN_KINDS

DATE_HELP = "UTC date YYYY-MM-DD"


def add_parsers(commands: argparse._SubParsersAction) -> None:
    history = commands.add_parser("history", help="list stored attempts, newest first")
    history.add_argument("--limit", type=int, default=20, help="number of attempts to list")
    history.add_argument("--technique", help="only attempts of this technique")
    history.add_argument("--family", help="only questions of this reasoning-gym family")
    history.add_argument("--recipe", help='only attempts of this recipe label, e.g. "search(n=8)"')
    history.add_argument("--model", help="only attempts on this model id, e.g. embedded")
    history.add_argument("--run", help="only attempts of this run id")
    history.add_argument("--since", help=f"only attempts from this day on ({DATE_HELP})")
    history.add_argument("--until", help=f"only attempts up to and including this day ({DATE_HELP})")
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")

    show = commands.add_parser("show", help="print one stored attempt with its full trace as JSON")
    show.add_argument("attempt_id", type=int)

    runs = commands.add_parser("runs", help="list stored runs, newest first, with their number of attempts")
    runs.add_argument("--limit", type=int, default=20, help="number of runs to list")
    runs.add_argument("--kind", choices=RUN_KINDS, help="only runs of this kind")
    runs.add_argument("--model", help="only runs on this model id")
    runs.add_argument("--since", help=f"only runs from this day on ({DATE_HELP})")
    runs.add_argument("--until", help=f"only runs up to and including this day ({DATE_HELP})")
    runs.add_argument("--json", action="store_true", help="print JSON instead of a table")

    rescore = commands.add_parser(
        "rescore", help="check stored outputs again with the current extractor and print what changed (stores nothing)"
    )
    target = rescore.add_mutually_exclusive_group(required=True)
    target.add_argument("--run", help="re-score every attempt of this run id")
    target.add_argument("--attempt", help="re-score this attempt id")
    rescore.add_argument("--all", action="store_true", help="print unchanged attempts too, not only the changed ones")
    rescore.add_argument("--json", action="store_true", help='print {"summary", "attempts"} as JSON')

    rerun = commands.add_parser("rerun", help="run a stored attempt again with its question, options and seed")
    rerun.add_argument("attempt_id", help="id of the stored attempt to repeat")
    rerun.add_argument("--model", help="model to load: by default the attempt's own; any other is rejected")
    rerun.add_argument("--json", action="store_true", help="print the old and new result as one JSON object")
    rerun.add_argument("--no-progress", action="store_true", help="hide the progress bar on stderr")


def run_history(args: argparse.Namespace) -> int:
    from lrm_lab.service.history import HISTORY_COLUMNS, history_rows
    from lrm_lab.store import Store

    rows = history_rows(
        Store(), args.limit, args.technique or "", args.family or "", args.model or "", args.recipe or "",
        args.run, args.since, args.until,
    )
    if args.json:
        print(json.dumps([dict(zip(HISTORY_COLUMNS, row)) for row in rows], ensure_ascii=False))
        return 0
    for identifier, created, run_id, _, _, recipe, _, question, answer, verdict, _, _ in rows:
        # repr() of the texts keeps control characters stored in them from acting on the terminal.
        print(f"{identifier:>6}  {created}  run {run_id:<5} {recipe:<16} {verdict:<10} {answer!r:<12} {question[:60]!r}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from lrm_lab.service.history import attempt_dict
    from lrm_lab.store import Store

    print(json.dumps(attempt_dict(Store(), args.attempt_id), ensure_ascii=False, indent=2))
    return 0


def run_runs(args: argparse.Namespace) -> int:
    from lrm_lab.service.history import RUN_COLUMNS, run_rows
    from lrm_lab.store import Store

    rows = run_rows(Store(), args.limit, args.kind or "", args.model or "", args.since, args.until)
    if args.json:
        print(json.dumps([dict(zip(RUN_COLUMNS, row)) for row in rows], ensure_ascii=False))
        return 0
    for identifier, created, kind, status, model, device, techniques, attempts in rows:
        print(f"{identifier:>6}  {created}  {kind:<9} {status:<9} {attempts!s:>5} attempts  {device:<5} "
              f"{model!r}  {techniques}")
    return 0


def run_rescore(args: argparse.Namespace) -> int:
    from lrm_lab.service.history import load_attempt
    from lrm_lab.service.rescore import rescore_attempt, rescore_run, rescore_summary
    from lrm_lab.store import Store

    store = Store()
    if args.run is not None:
        reports = rescore_run(store, args.run)
    else:
        reports = [rescore_attempt(load_attempt(store, args.attempt))]
    summary = rescore_summary(reports)
    if args.json:
        print(json.dumps({"summary": summary, "attempts": reports}, ensure_ascii=False))
        return 0

    print(
        f"Re-scored {summary['rescored']} of {summary['attempts']} attempts with extractor version "
        f"{summary['extractor_version']}: {summary['changed']} changed, {summary['not_rescorable']} not re-scorable."
    )
    for change, count in summary["verdict_changes"].items():
        print(f"  {change}: {count}")
    for report in reports:
        if report["changed"] or args.all or not report["rescorable"]:
            print(
                f"{report['attempt_id']:>6}  {report['technique']:<9} "
                f"{report['old_answer']!r} ({report['old_verdict']}) -> {report['new_answer']!r} ({report['new_verdict']})"
                f"  extractor {report['old_extractor_version']} -> {report['new_extractor_version']}"
                + (f"  {report['note']}" if report["note"] else "")
            )
    return 0


def run_rerun(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lrm_lab.service.history import load_attempt
    from lrm_lab.service.lab import Lab
    from lrm_lab.service.rerun import rerun_attempt, rerun_json, rerun_request

    lab = Lab()
    record = load_attempt(lab.store, args.attempt_id)
    model_id = args.model or record.model_id
    rerun_request(record, model_id)  # reject another model or outdated options before the model loads

    with tqdm(total=100, desc="loading model", unit="%", file=sys.stderr, disable=args.no_progress) as bar:
        lab.slot.load(model_id)
        final = None
        for update in rerun_attempt(lab, record):
            bar.set_description(update.message[:40])
            bar.update(round(update.fraction * 100) - bar.n)
            final = update

    summary = rerun_json(lab.store, record, final)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return 0
    print_rerun(summary)
    return 0


def print_rerun(summary: dict) -> None:
    """Print the old and the new result of a re-run one above the other, then what differs between the runs."""
    print(f"Re-ran attempt {summary['attempt_id']} as attempt {summary['rerun_attempt_id']} in run {summary['run_id']}.")
    for label, result in (("old", summary["old"]), ("new", summary["new"])):
        if result is None:
            print(f"{label}: stopped before it finished")
            continue
        print(
            f"{label}: answer={result['answer']!r:<12} verdict={result['verdict']:<10} "
            f"tokens={result['completion_tokens']:<5} seconds={result['seconds']:.1f}"
        )
    for note in summary["notes"]:
        print(f"note: {note}")
