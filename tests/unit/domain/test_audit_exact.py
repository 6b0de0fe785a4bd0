"""The exact auditor agrees with a brute force over every group of people, on small random cases.

A case: a few categories plus the residual (never shown), a few batches of arrivals, true counts
per (category, batch), and per release a random choice of the total and the categories shown;
some batches may be known to the reader (their own submissions). The brute force builds the
reader's linear system over the unknown atoms, enumerates every subset of them, keeps those whose
indicator lies in the row space (exact rational elimination) and takes the smallest group of at
least one person. The auditor must find the same smallest size.
"""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import pytest

from shared.domain.audit_exact import PartitionVersion, derived_groups, merge_known
from shared.domain.reader_counts import Counts

TOTAL = "total"


def _row_space(rows: list[list[int]]) -> list[tuple[int, list[Fraction]]]:
    """Reduced rows (pivot column, row) of the span of `rows`."""
    basis: list[tuple[int, list[Fraction]]] = []
    for row in rows:
        vector = [Fraction(x) for x in row]
        for pivot, base in basis:
            if vector[pivot]:
                factor = vector[pivot]
                vector = [v - factor * b for v, b in zip(vector, base, strict=True)]
        pivot = next((i for i, v in enumerate(vector) if v), None)
        if pivot is None:
            continue
        vector = [v / vector[pivot] for v in vector]
        basis = [
            (p, [b - base[pivot] * v for b, v in zip(base, vector, strict=True)])
            for p, base in basis
        ]
        basis.append((pivot, vector))
    return basis


def _in_span(vector: list[int], basis: list[tuple[int, list[Fraction]]]) -> bool:
    rest = [Fraction(x) for x in vector]
    for pivot, base in basis:
        if rest[pivot]:
            factor = rest[pivot]
            rest = [r - factor * b for r, b in zip(rest, base, strict=True)]
    return not any(rest)


def _case(seed: int) -> tuple[list[list[int]], list[tuple[bool, set[int]]], set[int]]:
    rng = random.Random(seed)
    categories, batches = rng.randint(1, 3), rng.randint(1, 4)
    counts = [
        [rng.choice([0, 0, 1, 2, 3, 5]) for _ in range(batches)] for _ in range(categories + 1)
    ]
    shown = [
        (rng.random() < 0.7, {c for c in range(categories) if rng.random() < 0.5})
        for _ in range(batches)
    ]
    known = {b for b in range(batches) if rng.random() < 0.2}
    return counts, shown, known


def _brute_force_smallest(
    counts: list[list[int]], shown: list[tuple[bool, set[int]]], known: set[int]
) -> int | None:
    residual = len(counts) - 1
    atoms = [(c, b) for c in range(len(counts)) for b in range(len(shown)) if b not in known]
    rows = []
    for release, (total_shown, categories) in enumerate(shown):
        if total_shown:
            rows.append([1 if b <= release else 0 for _, b in atoms])
        for category in categories:
            rows.append([1 if c == category and b <= release else 0 for c, b in atoms])
    assert residual not in {c for _, cats in shown for c in cats}
    basis = _row_space(rows)
    smallest = None
    for size in range(1, len(atoms) + 1):
        for subset in itertools.combinations(range(len(atoms)), size):
            people = sum(counts[atoms[i][0]][atoms[i][1]] for i in subset)
            if people == 0 or (smallest is not None and people >= smallest):
                continue
            indicator = [1 if i in subset else 0 for i in range(len(atoms))]
            if _in_span(indicator, basis):
                smallest = people
    return smallest


def _auditor_smallest(
    counts: list[list[int]], shown: list[tuple[bool, set[int]]], known: set[int]
) -> int | None:
    batches = len(shown)
    categories = len(counts) - 1

    def cumulative(category: int, release: int) -> int:
        return sum(counts[category][: release + 1])

    versions = []
    for release, (total_shown, shown_categories) in enumerate(shown):
        if not total_shown and not shown_categories:
            continue
        total = sum(cumulative(c, release) for c in range(categories + 1))
        versions.append(
            PartitionVersion(
                release + 1,
                Counts(total) if total_shown else None,
                {f"c{c}": Counts(cumulative(c, release)) for c in sorted(shown_categories)},
                (release + 1,),
            )
        )
    known_newcomers = {
        b + 1: {
            TOTAL: Counts(sum(counts[c][b] for c in range(categories + 1))),
            **{f"c{c}": Counts(counts[c][b]) for c in range(categories)},
        }
        for b in known
    }
    merged = merge_known(versions, list(range(1, batches + 1)), known_newcomers, TOTAL)
    sizes = [g.counts.n for g in derived_groups(merged) if g.counts.n > 0]
    return min(sizes) if sizes else None


@pytest.mark.parametrize("seed", range(400))
def test_smallest_determined_group_agrees_with_brute_force(seed: int) -> None:
    counts, shown, known = _case(seed)
    assert _auditor_smallest(counts, shown, known) == _brute_force_smallest(counts, shown, known)


def test_derived_groups_ending_at_last_are_those_a_new_release_adds() -> None:
    for seed in range(200):
        counts, shown, _ = _case(seed)
        categories = len(counts) - 1
        versions = []
        for release, (total_shown, cats) in enumerate(shown):
            total = sum(sum(counts[c][: release + 1]) for c in range(categories + 1))
            versions.append(
                PartitionVersion(
                    release + 1,
                    Counts(total) if total_shown else None,
                    {f"c{c}": Counts(sum(counts[c][: release + 1])) for c in sorted(cats)},
                )
            )
        every = {(g.after, g.through, g.counts.n, g.hidden) for g in derived_groups(versions)}
        built = set()
        for last in range(1, len(versions) + 1):
            built |= {
                (g.after, g.through, g.counts.n, g.hidden)
                for g in derived_groups(versions[:last], ending_at_last=True)
            }
        assert built == every
