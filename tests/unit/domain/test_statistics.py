"""Estimates checked against scipy and numpy, and against Newcombe's published examples."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from shared.domain.distributions import normal_quantile, student_t_quantile
from shared.domain.statistics import (
    Interval,
    mean_with_interval,
    median_and_p90,
    percentile,
    percentile_rank,
    percentiles,
    proportion_difference,
    wilson_interval,
)


@pytest.mark.parametrize("p", [0.9, 0.975, 0.995])
def test_t_quantile_matches_scipy_for_1_to_1000_degrees_of_freedom(p):
    for df in range(1, 1001):
        assert student_t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), abs=1e-9, rel=1e-12)


@pytest.mark.parametrize("p", [1e-8, 0.001, 0.025, 0.3, 0.7, 0.9995])
@pytest.mark.parametrize("df", [1, 2, 3, 4.5, 7, 30, 120, 999])
def test_t_quantile_matches_scipy_across_the_range(p, df):
    expected = stats.t.ppf(p, df)
    assert student_t_quantile(p, df) == pytest.approx(expected, abs=1e-9, rel=1e-10)


@pytest.mark.parametrize("p", [1e-12, 1e-6, 0.025, 0.2, 0.5, 0.8, 0.975, 1 - 1e-9])
def test_normal_quantile_matches_scipy(p):
    assert normal_quantile(p) == pytest.approx(stats.norm.ppf(p), abs=1e-12)


def test_mean_interval_matches_scipy_t_interval():
    scores = [Fraction(7, 2), Fraction(4), Fraction(2), Fraction(13, 3), Fraction(5), Fraction(3)]
    estimate = mean_with_interval(len(scores), sum(scores), sum(s * s for s in scores))
    values = [float(s) for s in scores]
    low, high = stats.t.interval(
        0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values)
    )
    assert estimate.mean == pytest.approx(np.mean(values), abs=1e-15)
    assert (estimate.interval.low, estimate.interval.high) == pytest.approx((low, high), abs=1e-12)


scores_on_the_scale = st.lists(
    st.fractions(min_value=1, max_value=5, max_denominator=4), min_size=1, max_size=60
)


@settings(max_examples=300)
@given(scores_on_the_scale)
def test_mean_interval_rounds_the_exact_rationals_once(scores):
    """The same floats as rounding the exact Fraction mean and variance, each once."""
    n, total, squares = (
        len(scores),
        sum(scores, Fraction(0)),
        sum((s * s for s in scores), Fraction(0)),
    )
    estimate = mean_with_interval(n, total, squares)
    assert estimate.mean == float(total / n)
    if n > 1:
        variance = float((squares - total * total / n) / (n - 1))
        half_width = student_t_quantile(0.975, n - 1) * math.sqrt(variance / n)
        assert estimate.interval == Interval(estimate.mean - half_width, estimate.mean + half_width)


def test_a_single_observation_has_a_mean_but_no_interval():
    estimate = mean_with_interval(1, Fraction(3), Fraction(9))
    assert estimate.mean == 3.0 and estimate.interval is None


@pytest.mark.parametrize(
    "successes, n", [(0, 10), (3, 10), (10, 10), (1, 1), (47, 120), (999, 1000)]
)
def test_wilson_interval_matches_scipy(successes, n):
    expected = stats.binomtest(successes, n).proportion_ci(0.95, method="wilson")
    interval = wilson_interval(successes / n, n)
    assert (interval.low, interval.high) == pytest.approx((expected.low, expected.high), abs=1e-12)


@pytest.mark.parametrize(
    "a, n_a, b, n_b, low, high",
    [  # Newcombe (1998), Statistics in Medicine 17:873-890, table II, method 10
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
    ],
)
def test_newcombe_interval_reproduces_the_published_examples(a, n_a, b, n_b, low, high):
    estimate = proportion_difference(a / n_a, n_a, b / n_b, n_b)
    assert estimate.difference == pytest.approx(a / n_a - b / n_b)
    assert (estimate.interval.low, estimate.interval.high) == pytest.approx((low, high), abs=5e-5)
    assert estimate.significant == (low > 0)


def test_newcombe_interval_is_built_from_scipy_wilson_intervals():
    a = stats.binomtest(30, 40).proportion_ci(method="wilson")
    b = stats.binomtest(12, 35).proportion_ci(method="wilson")
    p_a, p_b = 30 / 40, 12 / 35
    estimate = proportion_difference(p_a, 40, p_b, 35)
    assert estimate.interval.low == pytest.approx(
        p_a - p_b - ((p_a - a.low) ** 2 + (b.high - p_b) ** 2) ** 0.5
    )
    assert estimate.interval.high == pytest.approx(
        p_a - p_b + ((a.high - p_a) ** 2 + (p_b - b.low) ** 2) ** 0.5
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.floats(-1e6, 1e6, allow_nan=False) | st.sampled_from([0.0, 50.0, 100.0]),
        min_size=1,
        max_size=40,
    ),
    st.floats(0, 100) | st.sampled_from([10, 25, 50, 75, 90]),
)
def test_percentile_matches_numpy_linear(values, q):
    assert percentile(values, q) == pytest.approx(
        float(np.percentile(values, q)), rel=1e-12, abs=1e-9
    )


def test_benchmark_percentiles_by_hand():
    # n = 5: positions 0.4, 1, 2, 3, 3.6 between order statistics 10, 20, 30, 40, 50.
    assert percentiles([50.0, 10.0, 40.0, 20.0, 30.0]) == pytest.approx(
        (14.0, 20.0, 30.0, 40.0, 46.0)
    )


def test_percentile_rank_counts_ties_as_the_same_or_lower():
    values = [10.0, 20.0, 20.0, 30.0]
    assert [percentile_rank(v, values) for v in values] == [0.25, 0.75, 0.75, 1.0]


def test_median_and_p90_of_durations():
    assert median_and_p90([1.0, 2.0, 3.0, 4.0, 100.0]) == pytest.approx((3.0, 61.6))
