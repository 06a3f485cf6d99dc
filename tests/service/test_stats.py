"""Wilson score intervals against published values."""

import pytest

from lrm_lab.service.stats import wilson_interval


# Expected values from statsmodels' proportion_confint(method="wilson") and Newcombe (1998), table I.
@pytest.mark.parametrize(
    "correct, total, low, high",
    [
        (5, 10, 0.2366, 0.7634),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (81, 263, 0.2553, 0.3662),  # Newcombe (1998), example (a)
        (15, 148, 0.0624, 0.1605),  # Newcombe (1998), example (b)
        (0, 20, 0.0, 0.1611),  # Newcombe (1998), example (c)
        (1, 29, 0.0061, 0.1718),  # Newcombe (1998), example (d)
    ],
)
def test_wilson_matches_known_values(correct, total, low, high):
    assert wilson_interval(correct, total) == pytest.approx((low, high), abs=1e-4)


def test_wilson_contains_the_proportion():
    for total in (1, 7, 50):
        for correct in range(total + 1):
            low, high = wilson_interval(correct, total)
            assert 0.0 <= low <= correct / total <= high <= 1.0


def test_wilson_narrows_with_more_data():
    small = wilson_interval(5, 10)
    large = wilson_interval(50, 100)

    assert large[1] - large[0] < small[1] - small[0]


@pytest.mark.parametrize("correct, total", [(0, 0), (3, 2), (-1, 5)])
def test_wilson_rejects_impossible_counts(correct, total):
    with pytest.raises(ValueError):
        wilson_interval(correct, total)
