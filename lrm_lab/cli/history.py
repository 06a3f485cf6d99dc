"""The history and show commands: list stored attempts and print one in full."""

from __future__ import annotations

import argparse
import json


def add_parsers(commands: argparse._SubParsersAction) -> None:
    history = commands.add_parser("history", help="list stored attempts, newest first")
    history.add_argument("--limit", type=int, default=20, help="number of attempts to list")
    history.add_argument("--technique", help="only attempts of this technique")
    history.add_argument("--family", help="only questions of this reasoning-gym family")
    history.add_argument("--json", action="store_true", help="print JSON instead of a table")

    show = commands.add_parser("show", help="print one stored attempt with its full trace as JSON")
    show.add_argument("attempt_id", type=int)


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
