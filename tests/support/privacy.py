"""Privacy checks over releases: every way a release ever written could reveal fewer than k
people, cell by cell, release by release, and as the auditor reads the whole history."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from shared.domain.audit import audit
from shared.domain.benchmark_set import Cell, DistributionCell, RankCell, ReachCell
from shared.domain.cells import (
    ChangeCell,
    CompositeCell,
    DisparityCell,
    ExperienceCell,
    ResponseCell,
)
from shared.domain.releases import Release
from shared.domain.survey_state import TOTAL


def record_problems(releases: Iterable[Release], k: int, min_sites: int) -> list[str]:
    """Each cell on its own: no breakdown cell below k, no derived cell over a group below k,
    no reach value about fewer than k people, no distribution over fewer than `min_sites` sites."""
    problems: list[str] = []
    for cell in (cell for release in releases for cell in release.cells):
        if isinstance(cell, (CompositeCell, ResponseCell, ExperienceCell)) and cell.n < k:
            problems.append(f"{cell.key}: n={cell.n} < {k}")
        elif isinstance(cell, DisparityCell) and min(cell.n, cell.reference_n) < k:
            problems.append(f"{cell.key}: compares {cell.n} with {cell.reference_n} people")
        elif isinstance(cell, ChangeCell) and min(cell.from_n, cell.to_n) < k:
            problems.append(f"{cell.key}: compares {cell.from_n} with {cell.to_n} people")
        elif isinstance(cell, ReachCell) and cell.describes_people and cell.n < k:
            problems.append(f"{cell.key}: about {cell.n} people")
        elif isinstance(cell, DistributionCell) and cell.sites < min_sites:
            problems.append(f"{cell.key}: over {cell.sites} sites")
    return problems


def privacy_violations(releases: Sequence[Release], k: int, min_sites: int) -> list[str]:
    """Every way a release ever written could reveal fewer than k people: each cell on its own
    (`record_problems`), each release on its own (a derived cell only with the cells it comes
    from, no subtraction of shown cells from a shown total leaving 1..k-1 people), and the whole
    history as the auditor reads it."""
    problems = record_problems(releases, k, min_sites)
    for release in releases:
        problems.extend(_publication_problems(release.by_key(), k))
    problems.extend(finding.description for finding in audit(releases, k, min_sites=min_sites))
    return problems


def _publication_problems(cells: Mapping[str, Cell], k: int) -> list[str]:
    problems: list[str] = []
    families: dict[str, list[CompositeCell | ResponseCell | ExperienceCell]] = defaultdict(list)
    for cell in cells.values():
        if isinstance(cell, (CompositeCell, ResponseCell, ExperienceCell)):
            families[cell.family].append(cell)
        if isinstance(cell, (DisparityCell, ChangeCell)):
            missing = [key for key in cell.depends_on if key not in cells]
            if missing:
                problems.append(f"{cell.key} is shown without {missing}")
        if isinstance(cell, RankCell) and cell.depends_on[1] not in cells:
            problems.append(f"{cell.key} is shown without its distribution")
    for family, members in families.items():
        total = next((cell for cell in members if cell.dimension == TOTAL), None)
        by_dimension: dict[str, int] = defaultdict(int)
        for cell in members:
            if cell.dimension != TOTAL:
                by_dimension[cell.dimension] += cell.n
        if total is None:
            continue  # without a total, nothing is subtracted from anything
        for dimension, shown in by_dimension.items():
            left = total.n - shown
            if 0 < left < k:
                problems.append(
                    f"{family}: {total.n} in total minus {shown} shown by {dimension} leaves {left}"
                )
    return problems
