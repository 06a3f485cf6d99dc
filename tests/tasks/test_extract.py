"""Answer extraction from completions in the forms that small and large models write."""

from __future__ import annotations

import time

import pytest

from lrm_lab.tasks.extract import EXTRACTOR_VERSION, extract_answer

NUMBER_CASES = [
    # A worked line ending in "= value".
    ("5 * 5 = 25", "25"),
    ("The answer to this arithmetic problem is 7.", "7"),
    ("Step 1: 12 + 5 = 17\nStep 2: 17 * 2 = 34\n\nAnswer: Answer: 110", "110"),
    ("So the probability is \\boxed{\\frac{3}{4}}.", "3/4"),
    ("**Answer:** -61", "-61"),
    ("**Final Answer**: 7", "7"),
    ("Final answer: 3.50 dollars", "3.5"),
    ("The farm has 1,234 animals in total.", "1234"),
    ("\\boxed{1{,}234}", "1234"),
    ("The final answer is $\\boxed{42}$.", "42"),
    # The last \boxed wins, including one with nested braces.
    ("First \\boxed{3}, then corrected: \\boxed{\\frac{1}{2}}", "1/2"),
    ("Answer: 5 * 5 = 25", "25"),
    ("Answer:\n42", "42"),
    ("Natalia sold 48 clips in April.\n#### 72", "72"),
    ("The answer is $-3/4$.", "-3/4"),
    ("Calculate 12 - 5.\n12-5 is 7", "7"),
    ("The result is -8.", "-8"),
    ("It costs $2.50 each, so 4 cost 10.00 dollars", "10"),
    ("3 spiders have 3 * 8 = 24 legs.\n2 ducks have 2 * 2 = 4 legs.\nTotal: 24 + 4 = 28 legs.", "28"),
    # A marker with no number falls through to the text before it.
    ("12 + 30 = 42\nAnswer: see above", "42"),
    ("The answer is not obvious. Adding 3 and 4 gives 7, then 9", "9"),
    # A box cut off by the token limit is ignored.
    ("4 + 4 = 8 so \\boxed{8", "8"),
    ("I am not sure how to solve this problem.", None),
    # Numbers that label list items or steps are not answers.
    ("1. First, add the two numbers.\n2. Then check the sum.", None),
    ("Step 1: read the problem.\nStep 2:", None),
    ("1. 5 + 3 = 8", "8"),
    ("2) The total is 15", "15"),
    ("The sum is:\n42.", "42"),
    ("Step 3 gives 9", "9"),
    ("", None),
    ("   \n\n  ", None),
]


@pytest.mark.parametrize(("completion", "expected"), NUMBER_CASES)
def test_number_extraction(completion, expected):
    assert extract_answer(completion, "number") == expected


EXPRESSION_CASES = [
    ("Answer: 82 + 20 + 67 - 50", "82 + 20 + 67 - 50"),
    ("(67 - 50) * 7 = 119", "(67 - 50) * 7"),
    ("**Answer:** 82 + 20 + 67 - 50", "82 + 20 + 67 - 50"),
    ("Answer: \\boxed{(67 - 50) \\times 7}", "(67 - 50) * 7"),
    ("We need 119.\nTry 82 + 20 = 102.\nSo 82 + 20 + 67 - 50 = 119", "82 + 20 + 67 - 50"),
    ("The expression is 25 × 4 ÷ 2.", "25 * 4 / 2"),
    ("Using all numbers (so 9 + 23 - 15) we get 17", "9 + 23 - 15"),
    # A bare number after an explicit marker is returned, for the scorer to mark wrong.
    ("Answer: 119", "119"),
    # Powers are not countdown operators.
    ("Answer: 2**3 + 1", None),
    ("I could not find a way to reach the target.", None),
    ("", None),
]


@pytest.mark.parametrize(("completion", "expected"), EXPRESSION_CASES)
def test_expression_extraction(completion, expected):
    assert extract_answer(completion, "expression") == expected


TEXT_CASES = [
    ("The answer is Paris.", "Paris"),
    ("Let me think.\nParis", "Paris"),
    ("Answer: **blue whale**", "blue whale"),
    ("\\boxed{\\text{Jupiter}}", "Jupiter"),
    ("", None),
]


@pytest.mark.parametrize(("completion", "expected"), TEXT_CASES)
def test_text_extraction(completion, expected):
    assert extract_answer(completion, "text") == expected


def test_default_kind_is_number():
    assert extract_answer("So there are 14 legs.") == "14"


def test_unknown_kind_raises():
    with pytest.raises(ValueError, match="unknown answer kind"):
        extract_answer("Answer: 3", "letter")


def test_extractor_version_is_string():
    assert isinstance(EXTRACTOR_VERSION, str)
    assert EXTRACTOR_VERSION


def test_long_completion_is_fast():
    completion = "Let me add these up step by step, again and again. " * 2000 + "Answer: 12"
    started = time.perf_counter()
    assert extract_answer(completion) == "12"
    assert time.perf_counter() - started < 1.0


def test_unclosed_boxes_are_fast():
    # A small model stuck in a loop can open thousands of boxes without closing one.
    completion = "3 + 4 = 7 \\boxed{" * 5000
    started = time.perf_counter()
    assert extract_answer(completion) == "7"
    assert time.perf_counter() - started < 1.0
