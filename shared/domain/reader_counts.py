"""What a reader recovers from a shown cell, and adds and subtracts: counts of people.

A reader turns every shown cell into `Counts`: its n, and where the cell allows it the count
answering "yes" (experience cells: round(percent * n / 100)), the sum and the sum of squares of
its members' scores (composite cells: sum = n * mean, squares = (n - 1) s^2 + n * mean^2 with s
from the 95% t interval), or the count completing (training completion: round(value * n)).
Counts add and subtract like the sets of people they describe. Suppression, the release gate
and the auditor all judge what a reader can derive through this one model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from shared.domain.benchmark_set import Cell, ReachCell
from shared.domain.cells import CompositeCell, ExperienceCell, ResponseCell
from shared.domain.distributions import student_t_quantile
from shared.domain.reach import ReachMetric
from shared.domain.statistics import CONFIDENCE

# A sum of squared deviations this small, relative to the squares it was computed from, is 0:
# the floats of means and intervals carry about 1e-15 relative error; a real spread of scores
# (steps of at least 1/60 of a point) is many orders of magnitude larger.
_RELATIVE_NOISE = 1e-10


def in_small_range(count: int, k: int) -> bool:
    """A count of 1..k-1 people: never shown, never derivable."""
    return 0 < count < k


@dataclass(frozen=True)
class Counts:
    """What a reader knows of a set of people; None where the cells do not say."""

    n: int
    yes: int | None = None  # experience cells: answered "yes"
    completed: int | None = None  # training completion cells: completed (n counts the invited)
    score_sum: float | None = None  # composite cells
    score_square_sum: float | None = None
    magnitude: float = (
        0.0  # sum of |score_square_sum| of the cells combined: the scale of float noise
    )

    def plus(self, other: Counts, sign: int = 1) -> Counts:
        return Counts(
            n=self.n + sign * other.n,
            yes=None if self.yes is None or other.yes is None else self.yes + sign * other.yes,
            completed=(
                None
                if self.completed is None or other.completed is None
                else self.completed + sign * other.completed
            ),
            score_sum=(
                None
                if self.score_sum is None or other.score_sum is None
                else self.score_sum + sign * other.score_sum
            ),
            score_square_sum=(
                None
                if self.score_square_sum is None or other.score_square_sum is None
                else self.score_square_sum + sign * other.score_square_sum
            ),
            magnitude=self.magnitude + other.magnitude,
        )

    def minus(self, other: Counts) -> Counts:
        return self.plus(other, -1)

    def zero(self) -> Counts:
        """Nobody, with the same things known: what a sum of no cells adds."""
        return self.minus(self)

    def negated(self) -> Counts:
        return self.zero().minus(self)

    def scores_all_equal(self) -> bool:
        """At least two people, and the sums say that every one of them has the same score."""
        if self.n < 2 or self.score_sum is None or self.score_square_sum is None:
            return False
        squared_deviations = self.score_square_sum - self.score_sum * self.score_sum / self.n
        return abs(squared_deviations) <= _RELATIVE_NOISE * self.magnitude + 1e-9


def composite_counts(cell: CompositeCell) -> Counts:
    score_sum = cell.n * cell.mean
    if cell.n == 1:
        squares: float | None = cell.mean * cell.mean
    elif cell.mean_low is None or cell.mean_high is None:
        squares = None
    else:
        t = student_t_quantile(0.5 + CONFIDENCE / 2.0, cell.n - 1)
        standard_deviation = (cell.mean_high - cell.mean_low) / 2.0 * math.sqrt(cell.n) / t
        squares = (cell.n - 1) * standard_deviation**2 + cell.n * cell.mean * cell.mean
    return Counts(
        cell.n, score_sum=score_sum, score_square_sum=squares, magnitude=abs(squares or 0.0)
    )


def counts_of(cell: Cell) -> Counts | None:
    """The counts a reader recovers from a shown cell; None for a cell that is not about a set."""
    if isinstance(cell, ReachCell) and cell.metric == ReachMetric.RECRUITMENT_COUNT.value:
        return Counts(round(cell.value))  # people at a recruitment stage, however it is flagged
    if isinstance(cell, CompositeCell):
        return composite_counts(cell)
    if isinstance(cell, ExperienceCell):
        return Counts(cell.n, yes=round(cell.percent * cell.n / 100.0))
    if isinstance(cell, ResponseCell):
        return Counts(cell.n)
    if isinstance(cell, ReachCell) and cell.describes_people:
        if cell.metric in _SHARES_OF_PEOPLE:
            return Counts(cell.n, completed=round(cell.value * cell.n))
        return Counts(cell.n)
    return None


# Reach shares whose numerator is itself a count of people (completed, trained, URiM).
_SHARES_OF_PEOPLE = frozenset(
    {
        ReachMetric.TRAINING_COMPLETION_RATE.value,
        ReachMetric.HEALTH_EQUITY_TRAINED_SHARE.value,
        ReachMetric.RECRUITMENT_URIM_SHARE.value,
    }
)


def total_of(counts: Iterable[Counts], zero: Counts) -> Counts:
    """The counts of several disjoint sets together; `zero` when there are none."""
    result = zero
    for part in counts:
        result = result.plus(part)
    return result


def reveals_about_everyone(counts: Counts, k: int) -> bool:
    """Whether a derived set of k or more people still says something about fewer than k of them
    (a yes or no count of 1..k-1) or about every one of them (all alike)."""
    if counts.n <= 0:
        return False
    if counts.yes is not None:
        no = counts.n - counts.yes
        if in_small_range(counts.yes, k) or in_small_range(no, k) or counts.yes in (0, counts.n):
            return True
    if counts.completed is not None and (
        in_small_range(counts.completed, k) or in_small_range(counts.n - counts.completed, k)
    ):
        return True
    return counts.scores_all_equal()
