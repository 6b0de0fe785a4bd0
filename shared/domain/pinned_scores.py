"""Pinned scores: moments of a group that fit exactly one set of scores, all but one alike.

A composite score is the mean of the items a respondent answered (1..5 each), so it lies on a
known finite set. A group's n, sum and sum of squares may leave only one way to place its
scores on that set. When that one way is "n-1 equal scores and one other", the odd one out's
exact score is known to anyone who knows the rest (`docs/privacy.md`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import cache

from shared.domain.model import Composite, Instrument
from shared.domain.reader_counts import Counts

# Past this many steps of the search for a second placement, the group counts as pinned: the
# auditor fails closed rather than guess.
_SEARCH_BUDGET = 200_000
DEFAULT_ITEMS_PER_COMPOSITE = 4  # the sample instrument's; a composite score's grid follows it


def items_per_composite(instruments: Iterable[Instrument]) -> dict[Composite, int]:
    """The most items any of these instruments gives each composite: its scores' grid."""
    found: dict[Composite, int] = {}
    for instrument in instruments:
        per: dict[Composite, int] = {}
        for item in instrument.items:
            per[item.composite] = per.get(item.composite, 0) + 1
        for composite, count in per.items():
            found[composite] = max(found.get(composite, 0), count)
    return found


@cache
def score_grid(items: int) -> tuple[int, tuple[int, ...]]:
    """(scale, every possible composite score times scale) for a composite of `items` items."""
    scale = math.lcm(*range(1, items + 1))
    values = {
        total * scale // answered
        for answered in range(1, items + 1)
        for total in range(answered, 5 * answered + 1)
        if total * scale % answered == 0
    }
    return scale, tuple(sorted(values))


def _scaled(value: float, scale: int) -> int | None:
    scaled = value * scale
    nearest = round(scaled)
    return nearest if abs(scaled - nearest) <= 1e-6 * max(1.0, abs(scaled)) else None


class _Undecided(Exception):
    """The search ran out of budget."""


def _second_placement(n: int, deviations: tuple[int, ...], total: int, squares: int) -> bool:
    """Whether some multiset of at most n non-zero deviations, other than {total}, has that sum
    and sum of squares (the rest of the n people sit at deviation 0). _Undecided past the budget."""
    steps = 0
    ordered = sorted(deviations, key=lambda d: (-abs(d), d))

    def search(start: int, count: int, left_sum: int, left_squares: int, taken: list[int]) -> bool:
        nonlocal steps
        steps += 1
        if steps > _SEARCH_BUDGET:
            raise _Undecided
        if left_sum == 0 and left_squares == 0:
            return taken != [total]
        if left_squares <= 0 or count == n:
            return False
        # Cauchy-Schwarz: what is left of the sum needs at least left_sum^2 / left_squares people.
        if left_sum * left_sum > (n - count) * left_squares:
            return False
        for index in range(start, len(ordered)):
            deviation = ordered[index]
            if deviation * deviation > left_squares:
                continue
            taken.append(deviation)
            if search(
                index, count + 1, left_sum - deviation, left_squares - deviation * deviation, taken
            ):
                return True
            taken.pop()
        return False

    return search(0, 0, total, squares, [])


def pinned_odd_score(counts: Counts, items: int) -> float | None:
    """The odd score out, when the group's moments fit only "n-1 alike and one other"; else None."""
    n = counts.n
    if n < 2 or counts.score_sum is None or counts.score_square_sum is None:
        return None
    scale, grid = score_grid(items)
    total = _scaled(counts.score_sum, scale)
    squares = _scaled(counts.score_square_sum, scale * scale)
    if total is None or squares is None:
        return None
    on_grid = set(grid)
    for alike in grid:
        odd = total - (n - 1) * alike
        if odd == alike or odd not in on_grid:
            continue
        if (n - 1) * alike * alike + odd * odd != squares:
            continue
        distance = odd - alike
        deviations = tuple(
            value - alike
            for value in grid
            if value != alike and abs(value - alike) <= abs(distance)
        )
        try:
            if _second_placement(n, deviations, distance, distance * distance):
                return None
        except _Undecided:
            pass  # fail closed: an undecided group counts as pinned
        return odd / scale
    return None
