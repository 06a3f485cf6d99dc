"""Confidence intervals for accuracies."""

from __future__ import annotations

import math

Z_95 = 1.959963984540054  # two-sided 95% quantile of the standard normal distribution


def wilson_interval(correct: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """Return the Wilson score interval of a proportion ``correct / total`` (Wilson 1927).

    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 or ``total``
    successes, which matters for the small samples a lab runs. Raises ValueError when
    ``total`` is 0, because no interval exists without an observation.
    """
    if total <= 0:
        raise ValueError(f"total must be at least 1, got {total}")
    if not 0 <= correct <= total:
        raise ValueError(f"correct must be between 0 and total ({total}), got {correct}")
    p = correct / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half_width = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    # At 0 or `total` successes the exact bound is 0 or 1; set it so rounding cannot move it.
    low = 0.0 if correct == 0 else max(0.0, centre - half_width)
    high = 1.0 if correct == total else min(1.0, centre + half_width)
    return low, high
