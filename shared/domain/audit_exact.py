"""The exact auditor of a partition's releases: every group of people a reader can pin down.

The model (one family and one of its dimensions, e.g. a composite's roles). Write the people as
atoms: (category, batch), where a category is a value of the dimension or the residual of those
who left it blank or preferred not to say (never published), and a batch is the people who
arrived between two consecutive releases. Every published value of the partition is a sum over
atoms with 0/1 coefficients: the total at release r covers every atom of batches up to r; a
category cell at r covers its own atoms of batches up to r. A reader can compute the statistic
(n, sums, squares, yes count: one linear structure) of a group of atoms exactly when the group's
0/1 indicator lies in the span of those rows, with any signs, across any number of releases.

What that span holds (why the search below is exact). Take consecutive differences: the span is
the span of *intervals* (every atom of the batches between two consecutive releases showing the
total) and *segments* (a category's atoms between two consecutive releases showing it). A vector
of the span is β_j on interval j plus α_s on segment s. The residual has atoms in every interval
and no segment, so a 0/1 vector has every β_j in {0, 1}; then a segment lying inside intervals
all at 1 may be removed (α = -1) or kept, one inside intervals all at 0 may be added (α = 1) or
not, and any other segment stays as its intervals say. So a determined group is the intervals
chosen, minus some segments inside them, plus some segments outside. Counts are never negative,
so the smallest non-empty determined groups are single segments and, for each run of
consecutive intervals, the run minus every segment inside it (several runs only add up). The
auditor judges exactly those: a group of 1..k-1 among them exists if and only if any determined
group of 1..k-1 exists. `tests/unit/domain/test_audit_exact.py` checks this against a brute force
over every subset of atoms.

A reader who knows some batches (e.g. their own submissions) subtracts them from every later
value: the release that closed such a batch then describes the same people as the one before
it, and the two merge into one (`known_newcomers`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from shared.domain.reader_counts import Counts


@dataclass(frozen=True)
class PartitionVersion:
    """What one release shows of a partition: its total (None: hidden) and the shown categories."""

    position: int  # the release's number (its order among the scope's releases)
    total: Counts | None
    cells: Mapping[str, Counts] = field(default_factory=dict)  # category cell key -> counts
    numbers: tuple[int, ...] = ()  # the releases it was read from (more than one once merged)


@dataclass(frozen=True)
class DerivedGroup:
    """A set of people whose statistics a reader computes exactly from published values."""

    after: int  # the people who arrived after release `after` (0: from the start) ...
    through: int  # ... up to release `through`
    counts: Counts
    hidden: bool  # no published cell is this group: what all its members share is news
    subtracted: tuple[str, ...]  # category cells whose growth was taken out of the total's
    releases: tuple[int, ...]  # every release it is computed from


@dataclass(frozen=True)
class _Segment:
    category: str
    start: int  # index of the version before it (-1: from the start)
    end: int  # index of the version it ends at
    counts: Counts


def merge_known(
    versions: Sequence[PartitionVersion],
    order: Sequence[int],
    known_newcomers: Mapping[int, Mapping[str, Counts]],
    total_key: str,
) -> list[PartitionVersion]:
    """The versions as a reader who knows the newcomers of some releases sees them.

    `order` is every release number of the scope, in order; `known_newcomers[r]` the counts, per
    cell key, of the people who arrived between the release before r and r (absent: nobody).
    """
    if not known_newcomers:
        return list(versions)
    previous = {number: (order[i - 1] if i else 0) for i, number in enumerate(order)}
    adjusted: dict[int, PartitionVersion] = {}
    for version in versions:
        known = [
            newcomers for number, newcomers in known_newcomers.items() if number <= version.position
        ]

        def less_known(
            key: str, counts: Counts, known: list[Mapping[str, Counts]] = known
        ) -> Counts:
            for newcomers in known:
                if key in newcomers:
                    counts = counts.minus(newcomers[key])
            return counts

        position = version.position
        while (
            position in known_newcomers
        ):  # the batch it closed is known: it says what the one before did
            position = previous.get(position, 0)
        if position == 0:
            continue  # it now describes nobody new: everything before the first release is 0
        total = None if version.total is None else less_known(total_key, version.total)
        cells = {key: less_known(key, counts) for key, counts in version.cells.items()}
        found = adjusted.get(position)
        if found is not None:
            total = found.total if total is None else total
            cells = {**found.cells, **cells}
        numbers = tuple(sorted({*(found.numbers if found else ()), *version.numbers}))
        adjusted[position] = PartitionVersion(position, total, cells, numbers)
    return [adjusted[position] for position in sorted(adjusted)]


def _segments(versions: Sequence[PartitionVersion]) -> list[_Segment]:
    last: dict[str, int] = {}
    segments = []
    for index, version in enumerate(versions):
        for category, counts in version.cells.items():
            start = last.get(category, -1)
            before = versions[start].cells[category] if start >= 0 else counts.zero()
            segments.append(_Segment(category, start, index, counts.minus(before)))
            last[category] = index
    return segments


def derived_groups(
    versions: Sequence[PartitionVersion], *, ending_at_last: bool = False
) -> list[DerivedGroup]:
    """Every single segment and every run of intervals minus the segments inside it.

    With `ending_at_last`, only those that end at the last version: what a new release adds to
    a sequence already audited.
    """
    if not versions:
        return []
    last = len(versions) - 1
    position = [v.position for v in versions]
    numbers = [v.numbers or (v.position,) for v in versions]
    groups: list[DerivedGroup] = []
    segments = _segments(versions)
    for segment in segments:
        if ending_at_last and segment.end != last:
            continue
        span = range(max(segment.start, 0), segment.end + 1)
        groups.append(
            DerivedGroup(
                position[segment.start] if segment.start >= 0 else 0,
                position[segment.end],
                segment.counts,
                False,
                (segment.category,),
                tuple(sorted({n for i in span for n in numbers[i]})),
            )
        )
    totals = [index for index, version in enumerate(versions) if version.total is not None]
    ends = [totals[-1]] if ending_at_last and totals and totals[-1] == last else totals
    if ending_at_last and (not totals or totals[-1] != last):
        ends = []
    # Segments by their start, latest first: a run from boundary b takes every segment starting
    # at or after b and ending inside it.
    by_start = sorted(segments, key=lambda s: s.start, reverse=True)
    for end in ends:
        total = versions[end].total
        assert total is not None
        inside = [s for s in by_start if s.end <= end]
        taken = total.zero()
        subtracted: list[str] = []
        cursor = 0
        starts = [-1, *(t for t in totals if t < end)]
        for start in reversed(starts):
            while cursor < len(inside) and inside[cursor].start >= start:
                taken = taken.plus(inside[cursor].counts)
                subtracted.append(inside[cursor].category)
                cursor += 1
            before_total = versions[start].total if start >= 0 else None
            grown = total.minus(before_total) if before_total is not None else total
            span = range(max(start, 0), end + 1)
            groups.append(
                DerivedGroup(
                    position[start] if start >= 0 else 0,
                    position[end],
                    grown.minus(taken),
                    True,
                    tuple(sorted(set(subtracted))),
                    tuple(sorted({n for i in span for n in numbers[i]})),
                )
            )
    return groups


def has_hidden_part(versions: Sequence[PartitionVersion], index: int) -> bool:
    """Whether some people of the total at `versions[index]` are in no shown segment up to it."""
    cumulative = [
        g
        for g in derived_groups(versions[: index + 1], ending_at_last=True)
        if g.hidden and g.after == 0
    ]
    return any(g.counts.n > 0 for g in cumulative)
