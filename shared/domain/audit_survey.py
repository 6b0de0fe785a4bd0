"""Auditor checks on a scope's survey partitions, exact across every release (`audit_exact`).

For each family (a composite, the response counts, an experience item of one wave) and each
of its dimensions, the releases of the scope become `PartitionVersion`s; every determined group
`derived_groups` finds is judged:
- 1..k-1 people: a finding (SMALL_CELL for a first shown value, VERSION_DIFFERENCE for the growth
  of a cell, PARTITION_COMPLEMENT / PARTITION_DIFFERENCE_ACROSS_RELEASES for what the shown cells
  leave of the total at one release or between two);
- k or more: a yes or no count of 1..k-1 (NUMERATOR); a group with no published cell of its
  own, all alike (HOMOGENEOUS_HIDDEN_GROUP); moments that fit one placement of scores, all but
  one alike (PINNED_SCORES);
- a composite total at 0 % or 100 % positive while some of its people are in no shown cell of
  the dimension (HOMOGENEOUS_HIDDEN_GROUP: every hidden member agreed, or disagreed, with
  every item).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.domain.audit_exact import (
    DerivedGroup,
    PartitionVersion,
    derived_groups,
    has_hidden_part,
    merge_known,
)
from shared.domain.audit_model import AttackKind, Derivation, Finding, judge
from shared.domain.model import Composite
from shared.domain.pinned_scores import DEFAULT_ITEMS_PER_COMPOSITE, pinned_odd_score
from shared.domain.published import SURVEY, PublishedRelease
from shared.domain.reader_counts import Counts
from shared.domain.survey_state import TOTAL

PartitionId = tuple[str, str]  # family, dimension


@dataclass(frozen=True)
class PartitionHistory:
    family: str
    dimension: str
    total_key: str
    composite: Composite | None
    versions: tuple[PartitionVersion, ...]
    unanimous_totals: frozenset[int]  # releases whose composite total is 0 % or 100 % positive


def partition_histories(
    releases: Sequence[PublishedRelease],
    known_newcomers: Mapping[int, Mapping[str, Counts]] | None = None,
) -> list[PartitionHistory]:
    """Every survey partition of one scope's releases (in order), as `audit_exact` reads them."""
    dimensions: dict[str, set[str]] = defaultdict(set)
    for release in releases:
        for cell in release.cells.values():
            if cell.kind == SURVEY and cell.dimension != TOTAL:
                dimensions[cell.family].add(cell.dimension)
    known: dict[int, Mapping[str, Counts]] = {}
    for position, release in enumerate(releases, start=1):
        # by position: a number cut twice (after a crash) is known at its first
        if known_newcomers and release.number in known_newcomers:
            known.setdefault(position, known_newcomers[release.number])
    order = list(range(1, len(releases) + 1))
    versions: dict[PartitionId, list[PartitionVersion]] = defaultdict(list)
    total_keys: dict[str, str] = {}
    composites: dict[str, Composite | None] = {}
    unanimous: dict[str, set[int]] = defaultdict(set)
    for position, release in enumerate(releases, start=1):
        totals: dict[str, Counts] = {}
        members: dict[PartitionId, dict[str, Counts]] = defaultdict(dict)
        for key, cell in release.cells.items():
            if cell.kind != SURVEY:
                continue
            composites[cell.family] = Composite(cell.composite) if cell.composite else None
            if cell.dimension == TOTAL:
                totals[cell.family] = cell.counts
                total_keys[cell.family] = key
                if cell.unanimous:
                    unanimous[cell.family].add(release.number)
            else:
                members[(cell.family, cell.dimension)][key] = cell.counts
        for family in sorted({*totals, *(f for f, _ in members)}):
            for dimension in sorted(dimensions[family]):
                cells = members.get((family, dimension), {})
                if family in totals or cells:
                    versions[(family, dimension)].append(
                        PartitionVersion(position, totals.get(family), cells, (release.number,))
                    )
    histories = []
    for (family, dimension), found in sorted(versions.items()):
        total_key = total_keys.get(family, family)
        histories.append(
            PartitionHistory(
                family,
                dimension,
                total_key,
                composites.get(family),
                tuple(merge_known(found, order, known, total_key)),
                frozenset(unanimous[family]),
            )
        )
    return histories


def _kind(group: DerivedGroup) -> AttackKind:
    if not group.hidden:
        return AttackKind.SMALL_CELL if group.after == 0 else AttackKind.VERSION_DIFFERENCE
    if not group.subtracted:
        return AttackKind.VERSION_DIFFERENCE  # the total's own growth
    return (
        AttackKind.PARTITION_COMPLEMENT
        if group.after == 0
        else AttackKind.PARTITION_DIFFERENCE_ACROSS_RELEASES
    )


def _how(history: PartitionHistory, group: DerivedGroup) -> str:
    what = history.total_key if group.hidden else group.subtracted[0]
    since = f"since release position {group.after}" if group.after else "from the start"
    minus = (
        f" minus the growth of {len(group.subtracted)} cell(s)"
        if group.hidden and group.subtracted
        else ""
    )
    return f"{what} [{history.dimension}]: people {since} through position {group.through}{minus}"


def history_findings(
    scope: str,
    history: PartitionHistory,
    k: int,
    *,
    ending_at_last: bool = False,
    items_per_composite: Mapping[Composite, int] | None = None,
) -> list[Finding]:
    """Every finding in one partition's versions (only those a last version adds, if asked)."""
    findings: list[Finding] = []
    items = (
        (items_per_composite or {}).get(history.composite, DEFAULT_ITEMS_PER_COMPOSITE)
        if history.composite is not None
        else 0
    )
    for group in derived_groups(history.versions, ending_at_last=ending_at_last):
        keys = (history.total_key, *group.subtracted) if group.hidden else group.subtracted
        derivation = Derivation(
            _kind(group),
            scope,
            keys,
            group.releases,
            group.counts,
            group.hidden,
            _how(history, group),
        )
        findings += judge(derivation, k)
        if items and group.counts.n >= k:
            odd = pinned_odd_score(group.counts, items)
            if odd is not None:
                findings.append(
                    Finding(
                        AttackKind.PINNED_SCORES,
                        scope,
                        tuple(sorted(keys)),
                        group.releases,
                        1,
                        f"{_how(history, group)}: the moments of {group.counts.n} people fit one placement of scores, one of them {odd:.3f}",
                    )
                )
    versions = history.versions
    indices = [len(versions) - 1] if ending_at_last else range(len(versions))
    for index in indices:
        version = versions[index]
        if version.total is None or not set(version.numbers) & history.unanimous_totals:
            continue
        if has_hidden_part(versions, index):
            findings.append(
                Finding(
                    AttackKind.HOMOGENEOUS_HIDDEN_GROUP,
                    scope,
                    (history.total_key,),
                    version.numbers,
                    version.total.n,
                    f"{history.total_key} at 0 % or 100 % positive while some of its people are in no shown {history.dimension} cell: they all answered alike",
                )
            )
    return findings
