"""Auditor checks on single cells: each shown version on its own, and any two versions of a cell.

`Versions` is one scope's releases in number order; both checks read nothing else.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from shared.domain.audit_model import AttackKind, Derivation, Finding, judge
from shared.domain.audit_pairs import close_pairs
from shared.domain.benchmark_set import Cell
from shared.domain.cells import ChangeCell, DisparityCell
from shared.domain.published import PublishedRelease
from shared.domain.reader_counts import Counts, counts_of
from shared.domain.releases import Release

Versions = Sequence[Release]  # one scope, in number order


def _people_counts_of_derived(cell: Cell) -> tuple[int, ...]:
    if isinstance(cell, DisparityCell):
        return cell.n, cell.reference_n
    if isinstance(cell, ChangeCell):
        return cell.from_n, cell.to_n
    return ()


def shown_cell_findings(scope: str, releases: Versions, k: int) -> list[Finding]:
    """A shown cell about 1..k-1 people (or with a yes/no count of 1..k-1), or built on a hidden cell."""
    findings: list[Finding] = []
    for release in releases:
        shown = {cell.key for cell in release.cells}
        for cell in release.cells:
            counts = counts_of(cell)
            if counts is not None:
                findings += judge(
                    Derivation(
                        AttackKind.SMALL_CELL,
                        scope,
                        (cell.key,),
                        (release.number,),
                        counts,
                        False,
                        f"{cell.key} shown in release {release.number}",
                    ),
                    k,
                )
            for n in sorted(set(_people_counts_of_derived(cell))):
                if 1 <= n < k:
                    findings.append(
                        Finding(
                            AttackKind.SMALL_CELL,
                            scope,
                            (cell.key,),
                            (release.number,),
                            n,
                            f"{cell.key} shown in release {release.number} is computed over {n} respondent(s)",
                        )
                    )
            if isinstance(cell, (DisparityCell, ChangeCell)):
                missing = tuple(key for key in cell.depends_on if key not in shown)
                for key in missing:
                    findings.append(
                        Finding(
                            AttackKind.SHOWN_FROM_HIDDEN_CELL,
                            scope,
                            (cell.key, key),
                            (release.number,),
                            min(_people_counts_of_derived(cell)),
                            f"{cell.key} shown in release {release.number} while {key}, which it uses, is hidden",
                        )
                    )
    return findings


def _versions_by_key(releases: Sequence[PublishedRelease]) -> dict[str, list[tuple[int, Counts]]]:
    versions: dict[str, list[tuple[int, Counts]]] = defaultdict(list)
    for release in releases:
        for key, cell in release.cells.items():
            if not versions[key] or versions[key][-1][1] != cell.counts:
                versions[key].append((release.number, cell.counts))
    return versions


def version_difference_findings(
    scope: str, releases: Sequence[PublishedRelease], k: int
) -> list[Finding]:
    """Any two versions of a cell: the people who came (or went) in between, if 1..k-1, or their yes/no counts."""
    findings: list[Finding] = []
    for key, versions in sorted(_versions_by_key(releases).items()):
        sizes = [counts.n for _, counts in versions]
        yeses = [counts.yes for _, counts in versions]
        noes = [None if counts.yes is None else counts.n - counts.yes for _, counts in versions]
        candidates = (
            close_pairs(sizes, sizes, k) | close_pairs(yeses, yeses, k) | close_pairs(noes, noes, k)
        )
        for i, j in sorted((i, j) for i, j in candidates if i < j):
            (earlier, before), (later, after) = versions[i], versions[j]
            difference = after.minus(before)
            if difference.n < 0:
                difference = difference.negated()
            how = f"{key}, release {later} minus release {earlier} (n {before.n} -> {after.n})"
            findings += judge(
                Derivation(
                    AttackKind.VERSION_DIFFERENCE,
                    scope,
                    (key,),
                    (earlier, later),
                    difference,
                    False,
                    how,
                ),
                k,
            )
    return findings
