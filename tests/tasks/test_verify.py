"""Verdicts for completions of real reasoning-gym questions and of typed questions."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from lrm_lab.tasks.extract import EXTRACTOR_VERSION
from lrm_lab.tasks.families import make_question, typed_question
from lrm_lab.tasks.verdict import Verdict
from lrm_lab.tasks.verify import check

FAMILY_NAMES = ["basic_arithmetic", "chain_sum", "gsm_symbolic", "leg_counting", "countdown"]


def _in_thread(function, *args):
    """Run `function` in a worker thread and return its result, re-raising its exception."""
    outcome = {}

    def target():
        try:
            outcome["result"] = function(*args)
        except BaseException as error:  # re-raised below so that pytest reports it
            outcome["error"] = error

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "check did not finish within 30 s in a worker thread"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


@pytest.mark.parametrize("family", FAMILY_NAMES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_is_correct(family, seed):
    question = make_question(family, seed=seed)
    result = check(question, f"Let me work it out.\nAnswer: {question.reference}")

    assert result.verdict is Verdict.CORRECT
    assert result.score == 1.0
    assert result.answer == question.reference
    assert result.extractor_version == EXTRACTOR_VERSION


@pytest.mark.parametrize("family", ["basic_arithmetic", "chain_sum", "gsm_symbolic", "leg_counting"])
def test_wrong_number_is_wrong(family):
    question = make_question(family, seed=4)
    wrong = str(int(float(question.reference)) + 1)
    result = check(question, f"The answer is {wrong}.")

    assert result.verdict is Verdict.WRONG
    assert result.answer == wrong
    assert result.score is not None
    assert result.score < 1.0


def test_partial_credit_is_wrong():
    # gsm_symbolic's scorer gives 0.01 for a wrong number; only 1.0 counts as correct.
    question = make_question("gsm_symbolic", seed=4)
    wrong = str(int(float(question.reference)) + 1)
    result = check(question, f"Answer: {wrong}")

    assert result.verdict is Verdict.WRONG
    assert result.score == pytest.approx(0.01)


def test_countdown_other_solution_correct():
    question = make_question("countdown", seed=0)
    result = check(question, f"Answer: ({question.reference})")

    assert result.verdict is Verdict.CORRECT
    assert result.answer == f"({question.reference})"


def test_countdown_wrong_expression_wrong():
    question = make_question("countdown", seed=0)
    numbers = question.entry["metadata"]["numbers"]
    expression = " + ".join(str(number) for number in numbers)
    if sum(numbers) == question.entry["metadata"]["target"]:
        expression = " * ".join(str(number) for number in numbers)
    result = check(question, f"Answer: {expression}")

    assert result.verdict is Verdict.WRONG
    assert result.score == pytest.approx(0.05)


def test_countdown_equation_target_stripped():
    question = make_question("countdown", seed=0)
    target = question.entry["metadata"]["target"]
    result = check(question, f"{question.reference} = {target}")

    assert result.answer == question.reference
    assert result.verdict is Verdict.CORRECT


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_prose_without_answer_unparsed(family):
    question = make_question(family, seed=0)
    result = check(question, "I am not sure how to approach this problem.")

    assert result.verdict is Verdict.UNPARSED
    assert result.answer is None
    assert result.score is None
    assert result.extractor_version == EXTRACTOR_VERSION


def test_scorer_exception_is_error():
    # An entry without "answer", as an older or damaged record could have, makes the scorer raise.
    question = make_question("basic_arithmetic", seed=0)
    damaged = dataclasses.replace(question, entry={"question": question.text, "metadata": {}})
    result = check(damaged, "Answer: 3")

    assert result.verdict is Verdict.ERROR
    assert result.score is None
    assert "KeyError" in result.note


def test_unknown_family_is_error():
    question = dataclasses.replace(make_question("chain_sum", seed=0), family="no_such_family")
    result = check(question, "Answer: 3")

    assert result.verdict is Verdict.ERROR
    assert "no_such_family" in result.note


# ---- Typed questions -------------------------------------------------------------------


def test_typed_fraction_matches_decimal():
    question = typed_question("What is one half as a decimal?", "0.5")
    result = check(question, "Half of one is one over two.\nAnswer: 1/2")

    assert result.verdict is Verdict.CORRECT
    assert result.score == 1.0
    assert result.answer == "1/2"
    assert result.note == "math-verify"


def test_typed_latex_reference():
    question = typed_question("What is three quarters?", "\\frac{3}{4}")
    assert check(question, "The answer is 0.75").verdict is Verdict.CORRECT
    assert check(question, "The answer is 0.7").verdict is Verdict.WRONG


def test_typed_wrong_number():
    question = typed_question("What is 6 * 7?", "42")
    result = check(question, "6 * 7 = 41")

    assert result.verdict is Verdict.WRONG
    assert result.score == 0.0


def test_typed_text_reference_falls_back():
    question = typed_question("What is the capital of France?", "Paris")
    correct = check(question, "The answer is paris.")
    wrong = check(question, "The answer is Lyon.")

    assert correct.verdict is Verdict.CORRECT
    assert "compared ignoring case" in correct.note
    assert wrong.verdict is Verdict.WRONG
    assert wrong.score == 0.0


def test_typed_without_reference_unverified():
    question = typed_question("How many moons does Mars have?")
    result = check(question, "Mars has two moons, so the answer is 2.")

    assert result.verdict is Verdict.UNVERIFIED
    assert result.answer == "2"
    assert result.score is None


def test_typed_without_answer_unparsed():
    question = typed_question("What is 6 * 7?", "42")
    assert check(question, "I do not know.").verdict is Verdict.UNPARSED


def test_power_tower_compared_as_text():
    # Without the size guard, sympy does not finish comparing 9^9^9^9 with 5 within 20 s.
    question = typed_question("What is 9^9^9^9?", "9^9^9^9")
    started = time.perf_counter()
    result = _in_thread(check, question, "Answer: 5")

    assert time.perf_counter() - started < 5
    assert result.verdict is Verdict.WRONG
    assert "too large" in result.note


# ---- Worker threads --------------------------------------------------------------------


def test_typed_check_in_thread():
    question = typed_question("What is one half?", "0.5")
    result = _in_thread(check, question, "Answer: 1/2")

    assert result.verdict is Verdict.CORRECT
    assert result.note == "math-verify"


def test_family_check_in_thread():
    question = make_question("countdown", seed=1)
    result = _in_thread(check, question, f"Answer: {question.reference}")

    assert result.verdict is Verdict.CORRECT


def test_concurrent_checks():
    questions = [make_question(family, seed=3) for family in FAMILY_NAMES]
    questions.append(typed_question("What is three quarters?", "3/4"))
    expected_answers = [question.reference for question in questions[:-1]] + ["0.75"]

    results: list = [None] * len(questions)

    def run(index):
        results[index] = check(questions[index], f"Answer: {expected_answers[index]}")

    workers = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(len(questions))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)

    for question, result in zip(questions, results):
        assert result is not None, f"no result for {question.family or 'typed'}"
        assert result.verdict is Verdict.CORRECT, f"{question.family or 'typed'}: {result}"


def test_slow_math_comparison_times_out_in_thread():
    """A reference that sympy cannot compare quickly gives an error verdict instead of hanging."""
    import time

    from lrm_lab.tasks import mathcheck

    question = typed_question("Reply with 5.", r"\binom{10^{9}}{10^{8}}")
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(check=check(question, "Answer: 5")))
    start = time.perf_counter()
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "check() hung on a slow math-verify comparison"
    assert time.perf_counter() - start < mathcheck.TIMEOUT_S + 20
    assert outcome["check"].verdict in (Verdict.ERROR, Verdict.WRONG)


def test_math_check_works_after_timeout():
    question = typed_question("What is a half?", "0.5")
    assert check(question, "Answer: 1/2").verdict == Verdict.CORRECT
