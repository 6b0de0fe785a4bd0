"""Auditor checks on reach partitions: all-topics training completion against the shown topics.

Survey partitions are audited exactly (`audit_survey`, `audit_exact`). Reach values are not
counts that only grow (their twelve-month windows roll), so they keep the pairwise checks here.

A partition is a total (a breakdown family's "all"/"all" cell, or the all-topics training
completion cell) and the shown cells of one dimension under it (roles, a group dimension,
training topics). Whatever the shown cells leave of the total, the remainder, is a set of
people the reader can describe: hidden cells plus the residual of people who skipped the
dimension. Three ways to get such a set:
- within one release: total minus the shown cells;
- between any two releases: the newcomers outside the cells shown in both, i.e. the change of
  the total minus the changes of those cells (it also covers a cell withdrawn since);
- with memory: a release's remainder minus the last shown value of each cell withdrawn since
  (a stale complement: the withdrawn cell's old members are inside the remainder).
When the newcomers of two releases are few, a cell newly shown at the later one, minus them,
is what it held while hidden (exact if they all joined it, as its own submitter knows).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from shared.domain.audit_model import AttackKind, Derivation, Finding, judge
from shared.domain.audit_pairs import IndexPair, close_pairs, equal_pairs_apart
from shared.domain.published import REACH_TOPICS, TOPIC, PublishedRelease
from shared.domain.reader_counts import Counts
from shared.domain.survey_state import TOTAL

PartitionId = tuple[str, str]  # family, dimension


@dataclass(frozen=True)
class Partition:
    number: int  # the release it was read from
    total_key: str
    total: Counts
    members: Mapping[str, Counts]  # the dimension's shown cells, key -> counts
    complement_kind: AttackKind

    def outside(self, keys: Iterable[str]) -> Counts:
        """The total minus the given shown cells."""
        result = self.total
        for key in keys:
            result = result.minus(self.members[key])
        return result

    def remainder(self) -> Counts:
        return self.outside(sorted(self.members))


def partition_series(releases: Sequence[PublishedRelease]) -> dict[PartitionId, list[Partition]]:
    """Each reach partition of a scope at every release where its total is shown, dropping repeats."""
    series: dict[PartitionId, list[Partition]] = defaultdict(list)
    for release in releases:
        totals: dict[str, tuple[str, Counts]] = {}
        members: dict[str, dict[str, Counts]] = defaultdict(dict)
        for key, cell in release.cells.items():
            if cell.kind != REACH_TOPICS:
                continue
            if cell.dimension == TOTAL:
                totals[cell.family] = (key, cell.counts)
            else:
                members[cell.family][key] = cell.counts
        for family, (total_key, total) in sorted(totals.items()):
            partition = Partition(
                release.number, total_key, total, members[family], AttackKind.REACH_COMPLEMENT
            )
            history = series[(family, TOPIC)]
            if not history or (history[-1].total, history[-1].members) != (
                total,
                partition.members,
            ):
                history.append(partition)
    return series


def complement_findings(scope: str, partitions: Sequence[Partition], k: int) -> list[Finding]:
    """Within one release: the total minus the dimension's shown cells."""
    findings = []
    for partition in partitions:
        how = f"{partition.total_key} minus {len(partition.members)} shown cell(s), release {partition.number}"
        keys = (partition.total_key, *partition.members)
        findings += judge(
            Derivation(
                partition.complement_kind,
                scope,
                keys,
                (partition.number,),
                partition.remainder(),
                True,
                how,
            ),
            k,
        )
    return findings


def stale_complement_findings(scope: str, partitions: Sequence[Partition], k: int) -> list[Finding]:
    """A release's remainder minus the last shown value of every cell withdrawn since."""
    findings: list[Finding] = []
    last_shown: dict[str, Partition] = {}
    for partition in partitions:
        stale = sorted(key for key in last_shown if key not in partition.members)
        if stale:
            value = partition.remainder()
            for key in stale:
                value = value.minus(last_shown[key].members[key])
            numbers = tuple(sorted({partition.number, *(last_shown[key].number for key in stale)}))
            how = f"{partition.total_key} minus shown cells, release {partition.number}, minus last values of {stale}"
            keys = (partition.total_key, *partition.members, *stale)
            findings += judge(
                Derivation(AttackKind.STALE_COMPLEMENT, scope, keys, numbers, value, True, how), k
            )
        for key in partition.members:
            last_shown[key] = partition
    return findings


def _candidate_pairs(left: Sequence[Counts], right: Sequence[Counts], k: int) -> set[IndexPair]:
    sizes = ([c.n for c in left], [c.n for c in right])
    yeses = ([c.yes for c in left], [c.yes for c in right])
    noes = tuple([None if c.yes is None else c.n - c.yes for c in side] for side in (left, right))
    candidates = close_pairs(*sizes, k) | close_pairs(*yeses, k) | close_pairs(noes[0], noes[1], k)
    return (
        candidates
        | equal_pairs_apart(*yeses, *sizes, k)
        | equal_pairs_apart(noes[0], noes[1], *sizes, k)
    )


def _release_pairs(
    group: Sequence[Partition], other: Sequence[Partition], k: int
) -> set[tuple[int, int]]:
    """Pairs (earlier, later) of release numbers, one from each group, worth judging."""
    common = sorted(set(group[0].members) & set(other[0].members))
    left, right = [p.outside(common) for p in group], [p.outside(common) for p in other]
    pairs = {(group[i].number, other[j].number) for i, j in _candidate_pairs(left, right, k)}
    # Zero spread of scores has no integer to sort by: judge neighbours in time (cells only grow, so a
    # homogeneous pair of releases has homogeneous or small steps between them).
    merged = sorted([*group, *other], key=lambda p: p.number)
    pairs |= {
        (a.number, b.number) for a, b in itertools.pairwise(merged) if a.total.score_sum is not None
    }
    return {(min(a, b), max(a, b)) for a, b in pairs if a != b}


def difference_findings(scope: str, partitions: Sequence[Partition], k: int) -> list[Finding]:
    """Between any two releases: the change of the total minus the changes of the cells shown in both."""
    groups: dict[frozenset[str], list[Partition]] = defaultdict(list)
    for partition in partitions:
        groups[frozenset(partition.members)].append(partition)
    ordered = list(groups.values())
    by_number = {partition.number: partition for partition in partitions}
    pairs: set[tuple[int, int]] = set()
    for index, group in enumerate(ordered):
        for other in ordered[index:]:
            pairs |= _release_pairs(group, other, k)
    findings: list[Finding] = []
    for earlier, later in sorted(pairs):
        findings += _judge_difference(scope, by_number[earlier], by_number[later], k)
    return findings


def _judge_difference(scope: str, earlier: Partition, later: Partition, k: int) -> list[Finding]:
    common = sorted(set(earlier.members) & set(later.members))
    newcomers = later.outside(common).minus(earlier.outside(common))
    leavers = newcomers.n < 0
    difference = newcomers.negated() if leavers else newcomers
    releases = (earlier.number, later.number)
    keys = tuple(sorted({earlier.total_key, *earlier.members, *later.members}))
    how = f"{earlier.total_key}: change between releases {releases} minus the changes of {len(common)} cell(s) shown in both"
    findings = judge(
        Derivation(
            AttackKind.PARTITION_DIFFERENCE_ACROSS_RELEASES,
            scope,
            keys,
            releases,
            difference,
            True,
            how,
        ),
        k,
    )
    if leavers or not 1 <= difference.n < k:
        return findings
    for key in sorted(set(later.members) - set(earlier.members)):
        revealed = later.members[key].minus(difference)
        if 1 <= revealed.n < k:
            how = f"{key}, newly shown in release {later.number}, minus the {difference.n} newcomer(s) since {earlier.number}"
            findings += judge(
                Derivation(
                    AttackKind.HIDDEN_CELL_REVEALED,
                    scope,
                    (key, earlier.total_key),
                    releases,
                    revealed,
                    True,
                    how,
                ),
                k,
            )
    return findings


def partition_findings(scope: str, releases: Sequence[PublishedRelease], k: int) -> list[Finding]:
    findings: list[Finding] = []
    for _, partitions in sorted(partition_series(releases).items()):
        findings += complement_findings(scope, partitions, k)
        findings += difference_findings(scope, partitions, k)
        findings += stale_complement_findings(scope, partitions, k)
    return findings
