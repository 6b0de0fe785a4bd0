"""The auditor's vocabulary: kinds of attack, findings, and what a reader recovers from a cell.

A reader turns every shown cell into `Counts`: its n, and where the cell allows it the count
answering "yes" (experience cells: round(percent * n / 100)), the sum and the sum of squares of
its members' scores (composite cells: sum = n * mean, squares = (n - 1) s^2 + n * mean^2 with s
from the 95% t interval), or the count completing (training completion: round(value * n)).
Counts add and subtract like the sets of people they describe, so a `Derivation` (a set of
people the reader can describe by adding and subtracting shown cells) carries Counts too, and
`judge` decides what the reader learns from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from shared.domain.benchmark_set import Cell, ReachCell
from shared.domain.cells import CompositeCell, ExperienceCell, ResponseCell
from shared.domain.distributions import student_t_quantile
from shared.domain.reach import ReachMetric
from shared.domain.statistics import CONFIDENCE

# A sum of squared deviations this small, relative to the squares it was computed from, is 0:
# the floats of means and intervals carry about 1e-15 relative error; a real spread of scores
# (steps of at least 1/60 of a point) is many orders of magnitude larger.
_RELATIVE_NOISE = 1e-10


class AttackKind(StrEnum):
    SMALL_CELL = "small_cell"  # a shown cell about 1..k-1 people
    SHOWN_FROM_HIDDEN_CELL = "shown_from_hidden_cell"  # a disparity or change shown, a cell it uses hidden
    VERSION_DIFFERENCE = "version_difference"  # two versions of one cell differ by 1..k-1 people
    PARTITION_COMPLEMENT = "partition_complement"  # a total minus its dimension's shown cells
    PARTITION_DIFFERENCE_ACROSS_RELEASES = "partition_difference_across_releases"
    STALE_COMPLEMENT = "stale_complement"  # a remainder minus the last known value of withdrawn cells
    HIDDEN_CELL_REVEALED = "hidden_cell_revealed"  # a newly shown cell minus the few newcomers
    NUMERATOR = "numerator"  # a yes or no count of 1..k-1 among k or more people
    HOMOGENEOUS_HIDDEN_GROUP = "homogeneous_hidden_group"  # every member of a hidden set answered alike
    HIDDEN_SITE_IN_DISTRIBUTION = "hidden_site_in_distribution"  # a site whose total is hidden is counted
    FEW_SITES_IN_DISTRIBUTION = "few_sites_in_distribution"  # fewer sites than min_sites
    REACH_COMPLEMENT = "reach_complement"  # all-topics training counts minus the shown topics


@dataclass(frozen=True)
class Finding:
    """One statistic a reader of the releases can derive about too few people.

    `size` is the number of respondents (invited people, for reach; sites, for the two
    distribution kinds) in the derived set. `releases` are release numbers of `scope`.
    """

    kind: AttackKind
    scope: str
    keys: tuple[str, ...]
    releases: tuple[int, ...]
    size: int
    description: str


@dataclass(frozen=True)
class Counts:
    """What a reader knows of a set of people; None where the cells do not say."""

    n: int
    yes: int | None = None  # experience cells: answered "yes"
    completed: int | None = None  # training completion cells: completed (n counts the invited)
    score_sum: float | None = None  # composite cells
    score_square_sum: float | None = None
    magnitude: float = 0.0  # sum of |score_square_sum| of the cells combined: the scale of float noise

    def plus(self, other: Counts, sign: int = 1) -> Counts:
        return Counts(
            n=self.n + sign * other.n,
            yes=None if self.yes is None or other.yes is None else self.yes + sign * other.yes,
            completed=(
                None if self.completed is None or other.completed is None
                else self.completed + sign * other.completed
            ),
            score_sum=(
                None if self.score_sum is None or other.score_sum is None
                else self.score_sum + sign * other.score_sum
            ),
            score_square_sum=(
                None if self.score_square_sum is None or other.score_square_sum is None
                else self.score_square_sum + sign * other.score_square_sum
            ),
            magnitude=self.magnitude + other.magnitude,
        )

    def minus(self, other: Counts) -> Counts:
        return self.plus(other, -1)

    def negated(self) -> Counts:
        nothing = Counts(
            0, yes=None if self.yes is None else 0, completed=None if self.completed is None else 0,
            score_sum=None if self.score_sum is None else 0.0,
            score_square_sum=None if self.score_square_sum is None else 0.0,
        )
        return nothing.minus(self)

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
    return Counts(cell.n, score_sum=score_sum, score_square_sum=squares, magnitude=abs(squares or 0.0))


def counts_of(cell: Cell) -> Counts | None:
    """The counts a reader recovers from a shown cell; None for a cell that is not about a set."""
    if isinstance(cell, CompositeCell):
        return composite_counts(cell)
    if isinstance(cell, ExperienceCell):
        return Counts(cell.n, yes=round(cell.percent * cell.n / 100.0))
    if isinstance(cell, ResponseCell):
        return Counts(cell.n)
    if isinstance(cell, ReachCell) and cell.describes_people:
        if cell.metric == ReachMetric.TRAINING_COMPLETION_RATE.value:
            return Counts(cell.n, completed=round(cell.value * cell.n))
        return Counts(cell.n)
    return None


@dataclass(frozen=True)
class Derivation:
    """A set of people a reader describes by adding and subtracting shown cells."""

    kind: AttackKind  # what it is when the set holds 1..k-1 people
    scope: str
    keys: tuple[str, ...]
    releases: tuple[int, ...]
    counts: Counts
    hidden: bool  # the set is a hidden part of the data: an attribute all its members share is a finding
    how: str  # how the reader gets it, for the description


def _describe(counts: Counts) -> str:
    parts = [f"n={counts.n}"]
    if counts.yes is not None:
        parts.append(f"yes={counts.yes} no={counts.n - counts.yes}")
    if counts.completed is not None:
        parts.append(f"completed={counts.completed}")
    if counts.score_sum is not None and counts.n:
        parts.append(f"mean score={counts.score_sum / counts.n:.3f}")
    return ", ".join(parts)


def judge(derivation: Derivation, k: int) -> list[Finding]:
    """The findings a derived set gives: too few people, a small yes/no count, or a shared answer."""
    counts = derivation.counts
    if counts.n < 1:
        return []

    def finding(kind: AttackKind, size: int, what: str) -> Finding:
        description = f"{derivation.how}: {what} ({_describe(counts)})"
        return Finding(kind, derivation.scope, tuple(sorted(derivation.keys)), derivation.releases, size, description)

    if counts.n < k:
        return [finding(derivation.kind, counts.n, f"{counts.n} respondent(s) isolated")]
    found = []
    if counts.yes is not None:
        no = counts.n - counts.yes
        small = [count for count in (counts.yes, no) if 1 <= count < k]
        if small:
            found.append(finding(AttackKind.NUMERATOR, min(small), f"{min(small)} answered alike among {counts.n}"))
        if derivation.hidden and (counts.yes == 0 or no == 0):
            answer = "no" if counts.yes == 0 else "yes"
            found.append(finding(AttackKind.HOMOGENEOUS_HIDDEN_GROUP, counts.n, f"all {counts.n} answered {answer}"))
    if derivation.hidden and counts.scores_all_equal():
        found.append(finding(AttackKind.HOMOGENEOUS_HIDDEN_GROUP, counts.n, f"all {counts.n} have the same score"))
    return found
