"""Finding the pairs of versions worth judging without comparing every pair with every other.

A reader compares any two versions, so the auditor must too; but over a few thousand releases
all pairs are too many. A difference of 1..k-1 in some count, or of exactly 0 in the yes or no
count, is what makes a pair interesting; sorting by that count finds those pairs directly, in
time proportional to the pairs found.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence

IndexPair = tuple[int, int]  # (index into the left list, index into the right list)


def close_pairs(left: Sequence[int | None], right: Sequence[int | None], k: int) -> set[IndexPair]:
    """Pairs whose values differ by 1..k-1 (None values never pair)."""
    ordered = sorted((value, j) for j, value in enumerate(right) if value is not None)
    values = [value for value, _ in ordered]
    pairs: set[IndexPair] = set()
    for i, value in enumerate(left):
        if value is None:
            continue
        for low, high in ((value - k + 1, value - 1), (value + 1, value + k - 1)):
            for position in range(bisect_left(values, low), bisect_right(values, high)):
                pairs.add((i, ordered[position][1]))
    return pairs


def equal_pairs_apart(
    left: Sequence[int | None],
    right: Sequence[int | None],
    left_n: Sequence[int],
    right_n: Sequence[int],
    k: int,
) -> set[IndexPair]:
    """Pairs whose values are equal (None never pairs) and whose n differ by k or more."""
    entries: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for j, value in enumerate(right):
        if value is not None:
            entries[value].append((right_n[j], j))
    buckets = {
        value: ([n for n, _ in sorted(found)], [j for _, j in sorted(found)])
        for value, found in entries.items()
    }
    pairs: set[IndexPair] = set()
    for i, value in enumerate(left):
        if value is None or value not in buckets:
            continue
        sizes, indices = buckets[value]
        below, above = bisect_right(sizes, left_n[i] - k), bisect_left(sizes, left_n[i] + k)
        pairs.update((i, j) for j in indices[:below])
        pairs.update((i, j) for j in indices[above:])
    return pairs
