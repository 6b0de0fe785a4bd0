"""The estimates a benchmark cell carries: means, proportions, differences, percentiles.

Each function is deterministic: given the same integer or exact rational inputs it performs the
same floating-point operations in the same order, so the streaming processor and the batch
reference produce identical floats.

- Mean: 95% confidence interval from Student's t with n - 1 degrees of freedom.
- Proportion: Wilson score interval.
- Difference of two independent proportions: Newcombe's hybrid score interval (Newcombe 1998,
  method 10), built from the two Wilson intervals; significant when it excludes 0.
- Percentiles: linear interpolation between order statistics (Hyndman & Fan type 7, numpy's
  default `linear` method).
- Percentile rank: the share of values that are the same as or lower than the given one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from shared.domain.distributions import normal_quantile, student_t_quantile

CONFIDENCE = 0.95
BENCHMARK_PERCENTILES = (10, 25, 50, 75, 90)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def excludes_zero(self) -> bool:
        return self.low > 0.0 or self.high < 0.0


@dataclass(frozen=True)
class MeanEstimate:
    mean: float
    interval: Interval | None  # None below two observations: no variance to estimate


@dataclass(frozen=True)
class DifferenceEstimate:
    difference: float
    interval: Interval

    @property
    def significant(self) -> bool:
        return self.interval.excludes_zero()


def mean_with_interval(
    n: int, total: Fraction | int, total_of_squares: Fraction | int, confidence: float = CONFIDENCE
) -> MeanEstimate:
    """Mean and t interval of n observations given exactly as their sum and sum of squares."""
    if n < 1:
        raise ValueError("a mean needs at least one observation")
    # Exact ratios of integers (cheaper than Fraction arithmetic), each rounded once by int / int,
    # which rounds correctly as float(Fraction) does.
    total_n, total_d = total.numerator, total.denominator
    centre = total_n / (total_d * n)
    if n < 2:
        return MeanEstimate(centre, None)
    # Exact sample variance (sum of squares - total * mean) / (n - 1), over one denominator.
    squares_n, squares_d = total_of_squares.numerator, total_of_squares.denominator
    variance = (squares_n * total_d * total_d * n - total_n * total_n * squares_d) / (
        squares_d * total_d * total_d * n * (n - 1)
    )
    standard_error = math.sqrt(variance / n)
    half_width = student_t_quantile(0.5 + confidence / 2.0, n - 1) * standard_error
    return MeanEstimate(centre, Interval(centre - half_width, centre + half_width))


def wilson_interval(proportion: float, n: int, confidence: float = CONFIDENCE) -> Interval:
    """Wilson score interval for a proportion observed in n trials."""
    if n < 1:
        raise ValueError("a proportion needs at least one observation")
    z = normal_quantile(0.5 + confidence / 2.0)
    z2_over_n = z * z / n
    centre = (proportion + z2_over_n / 2.0) / (1.0 + z2_over_n)
    half_width = (
        z
        / (1.0 + z2_over_n)
        * math.sqrt(proportion * (1.0 - proportion) / n + z2_over_n / (4.0 * n))
    )
    return Interval(max(0.0, centre - half_width), min(1.0, centre + half_width))


def proportion_difference(
    proportion_a: float, n_a: int, proportion_b: float, n_b: int, confidence: float = CONFIDENCE
) -> DifferenceEstimate:
    """a - b with Newcombe's hybrid score interval (independent samples)."""
    interval_a = wilson_interval(proportion_a, n_a, confidence)
    interval_b = wilson_interval(proportion_b, n_b, confidence)
    difference = proportion_a - proportion_b
    below = math.sqrt((proportion_a - interval_a.low) ** 2 + (interval_b.high - proportion_b) ** 2)
    above = math.sqrt((interval_a.high - proportion_a) ** 2 + (proportion_b - interval_b.low) ** 2)
    return DifferenceEstimate(difference, Interval(difference - below, difference + above))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation, as numpy.percentile by default."""
    if not values:
        raise ValueError("a percentile needs at least one value")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * (q / 100.0)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    weight = position - below
    low, high = ordered[below], ordered[above]
    if weight >= 0.5:
        return high - (high - low) * (1.0 - weight)
    return low + (high - low) * weight


def percentiles(
    values: Sequence[float], qs: Sequence[float] = BENCHMARK_PERCENTILES
) -> tuple[float, ...]:
    return tuple(percentile(values, q) for q in qs)


def percentile_rank(value: float, values: Sequence[float]) -> float:
    """The share (0..1) of `values` that are the same as or lower than `value`."""
    if not values:
        raise ValueError("a percentile rank needs at least one value")
    return sum(1 for other in values if other <= value) / len(values)


def median_and_p90(durations: Sequence[float]) -> tuple[float, float]:
    return percentile(durations, 50), percentile(durations, 90)
