"""math-verify comparisons in a child process, so that a slow sympy input cannot hang the app.

math-verify enforces its timeouts with signal.alarm, which works only in a main thread, and the
app checks answers from worker threads. Running the comparison in a one-process pool gives it a
main thread of its own, and a comparison that still overruns is ended by terminating the pool.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import threading
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

TIMEOUT_S = 5  # per comparison, parsing of both sides included
# Starting the child process and importing sympy and math-verify takes seconds, and longer on a
# busy machine. It has its own limit, so a comparison's TIMEOUT_S never pays for it.
STARTUP_TIMEOUT_S = 120

# Powers and factorials above these sizes can keep sympy busy for a long time: comparing
# 9^9^9^9 with 5 did not finish within 20 s. They are compared as text instead.
_MAX_EXPONENT = 1000
_MAX_FACTORIAL = 1000

_pool = None
_pool_lock = threading.Lock()


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing an answer with a reference."""

    equal: bool | None  # None when math-verify could not parse a side or timed out
    note: str  # how it was decided, for the verdict's note
    timed_out: bool = False


def warm_up() -> None:
    """Start the child process and import math-verify in it, so that the first comparison is quick."""
    _started_pool()


def _started_pool():
    global _pool
    with _pool_lock:
        if _pool is None:
            pool = multiprocessing.get_context("spawn").Pool(processes=1)
            try:
                pool.apply_async(_import_math_verify).get(timeout=STARTUP_TIMEOUT_S)
            except BaseException:
                pool.terminate()
                raise
            _pool = pool
        return _pool


def _import_math_verify() -> None:
    import math_verify  # noqa: F401  (imports sympy too)


def compare(reference: str, answer: str) -> Comparison:
    """Compare `answer` with `reference` mathematically, in the child process, within TIMEOUT_S."""
    global _pool
    pool = _started_pool()
    pending = pool.apply_async(compare_in_this_process, (reference, answer))
    try:
        return pending.get(timeout=TIMEOUT_S + 2)  # math-verify's own timeouts fire first
    except multiprocessing.TimeoutError:
        log.warning("math-verify timed out comparing %r with reference %r; restarting its process",
                    answer[:80], reference[:80])
        with _pool_lock:
            if _pool is pool:
                _pool = None
        pool.terminate()
        return Comparison(None, f"math-verify timed out after {TIMEOUT_S} s", timed_out=True)


def compare_in_this_process(reference: str, answer: str) -> Comparison:
    """Parse both sides and compare them; runs in the pool's main thread, where timeouts work."""
    from math_verify import verify

    gold = _parse_math(reference)
    predicted = _parse_math(answer)
    if gold is None or predicted is None:
        side = "reference" if gold is None else "answer"
        return Comparison(None, f"math-verify could not parse the {side}, or it was too large to compare safely")
    return Comparison(bool(verify(gold, predicted, timeout_seconds=TIMEOUT_S)), "math-verify")


def _parse_math(text: str) -> list[Any] | None:
    """Parse `text` with math-verify, or return None if it contains no math or math too large to compare."""
    import sympy
    from math_verify import parse

    # math-verify finds bare LaTeX only between math delimiters.
    if "\\" in text and "$" not in text:
        text = f"${text}$"
    parsed = parse(text, parsing_timeout=TIMEOUT_S)

    expressions = [item for item in parsed if isinstance(item, sympy.Basic)]
    if not expressions or any(_is_too_large(expression) for expression in expressions):
        return None
    return parsed


def _is_too_large(expression) -> bool:
    """Return whether `expression` has a power or factorial too large for sympy to compare quickly."""
    import sympy

    for node in sympy.preorder_traversal(expression):
        if isinstance(node, sympy.Pow):
            exponent = node.exp
            if not exponent.is_Number or abs(exponent) > _MAX_EXPONENT:
                return True
        if isinstance(node, sympy.factorial):
            argument = node.args[0]
            if not argument.is_Number or argument > _MAX_FACTORIAL:
                return True
    return False


@atexit.register
def _close_pool() -> None:
    if _pool is not None:
        _pool.terminate()
