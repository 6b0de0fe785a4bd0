"""Small-cell suppression: what may be published, so that no one learns about fewer than k people.

A suppressed cell is absent: its n and every value derived from it are withheld together (a
percentage next to a shown n would give the count away). The processor publishes the cells whose
keys `publishable_keys` returns and tombstones every other key it published before.

Rules, with k the minimum cell size (default 10):
1. Primary: a breakdown cell (composite, response, experience) with n < k is hidden; so is a
   reach value that describes people with n < k.
2. Complementary, per partition: a family's total (dimension "all") and the cells of one
   dimension. Respondents who left that dimension blank or preferred not to say form an implicit
   residual (total minus the dimension's cells), never published. Whatever the shown cells leave
   of the total is recoverable by subtraction, so the hidden parts (hidden cells, plus the residual
   when it is not empty) must together cover at least k people, and must not be a single part
   smaller than k. Until that holds, the smallest shown cell (ties: by key) is hidden too.
   If the total itself has n < k, the whole family is hidden.
3. A distribution over fewer than `min_sites` sites is hidden: with five percentiles of a handful
   of sites, each site's value can be solved for.
4. A disparity, change or rank cell is hidden when any cell it is computed from is hidden.

Rules 1, 2 and 4 for disparity and change cells need one site's cells only (`hidden_site_keys`);
rules 3 and 4 for ranks need the cross-site cells and which site totals are shown
(`hidden_cross_site_keys`). `publishable_keys` is the two together.
"""

from __future__ import annotations

from collections import defaultdict
from typing import AbstractSet as Set, Iterable, Mapping

from shared.domain.benchmark_set import BenchmarkSet, Cell, DistributionCell, RankCell, ReachCell
from shared.domain.cells import ChangeCell, CompositeCell, DisparityCell, ExperienceCell, ResponseCell
from shared.domain.survey_state import TOTAL

DEFAULT_MIN_CELL_SIZE = 10
DEFAULT_MIN_SITES = 10


def _is_safe(hidden_sizes: list[int], residual: int, k: int) -> bool:
    parts = hidden_sizes + ([residual] if residual > 0 else [])
    return not parts or (sum(parts) >= k and (len(parts) >= 2 or parts[0] >= k))


def hidden_in_partition(total: int, cells: Mapping[str, int], k: int) -> set[str]:
    """Keys to hide among one dimension's cells (key -> n) under a shown total of `total` people."""
    residual = total - sum(cells.values())
    if residual < 0:
        raise ValueError("a partition's cells exceed its total")
    hidden = {key for key, n in cells.items() if n < k}
    shown = sorted((n, key) for key, n in cells.items() if key not in hidden)
    while not _is_safe([cells[key] for key in hidden], residual, k):
        # Unreachable once every cell is hidden: then the hidden parts are the whole total, >= k.
        hidden.add(shown.pop(0)[1])
    return hidden


def _hidden_breakdown_keys(cells: Iterable[Cell], k: int) -> set[str]:
    families: dict[str, list[CompositeCell | ResponseCell | ExperienceCell]] = defaultdict(list)
    for cell in cells:
        if isinstance(cell, (CompositeCell, ResponseCell, ExperienceCell)):
            families[cell.family].append(cell)
    hidden: set[str] = set()
    for members in families.values():
        total = next((cell for cell in members if cell.dimension == TOTAL), None)
        if total is None or total.n < k:
            hidden.update(cell.key for cell in members)
            continue
        by_dimension: dict[str, dict[str, int]] = defaultdict(dict)
        for cell in members:
            if cell.dimension != TOTAL:
                by_dimension[cell.dimension][cell.key] = cell.n
        for cells in by_dimension.values():
            hidden |= hidden_in_partition(total.n, cells, k)
    return hidden


def _check_limits(k: int, min_sites: int) -> None:
    if k < 1 or min_sites < 1:
        raise ValueError("the minimum cell size and the minimum number of sites are at least 1")


def _hidden_derived_keys(cells: Iterable[Cell], hidden: Set[str], present: Set[str]) -> set[str]:
    return {
        cell.key for cell in cells
        if isinstance(cell, (DisparityCell, ChangeCell, RankCell))
        and any(key in hidden or key not in present for key in cell.depends_on)
    }


def hidden_site_keys(cells: Iterable[Cell], k: int = DEFAULT_MIN_CELL_SIZE) -> set[str]:
    """Rules 1, 2 and 4 over sites' own cells (no distribution or rank): the keys to withhold.

    Every rule here looks at one site's cells only, so the processor applies it to the site
    that changed, and the batch reference to all sites at once, with the same result.
    """
    _check_limits(k, 1)
    cells = list(cells)
    hidden = _hidden_breakdown_keys(cells, k)
    hidden.update(
        cell.key for cell in cells if isinstance(cell, ReachCell) and cell.describes_people and cell.n < k
    )
    return hidden | _hidden_derived_keys(cells, hidden, {cell.key for cell in cells})


def hidden_cross_site_keys(
    cells: Iterable[Cell], shown_site_keys: Set[str], min_sites: int = DEFAULT_MIN_SITES
) -> set[str]:
    """Rules 3 and 4 over distribution and rank cells, given which sites' cells are shown."""
    _check_limits(1, min_sites)
    cells = list(cells)
    hidden = {cell.key for cell in cells if isinstance(cell, DistributionCell) and cell.sites < min_sites}
    present = {cell.key for cell in cells} | shown_site_keys
    return hidden | _hidden_derived_keys(cells, hidden, present)


def publishable_keys(
    benchmarks: BenchmarkSet, k: int = DEFAULT_MIN_CELL_SIZE, *, min_sites: int = DEFAULT_MIN_SITES
) -> frozenset[str]:
    """Keys of the cells that may be shown; the processor tombstones any other key it published."""
    _check_limits(k, min_sites)
    cross = [cell for cell in benchmarks.cells if isinstance(cell, (DistributionCell, RankCell))]
    own = [cell for cell in benchmarks.cells if not isinstance(cell, (DistributionCell, RankCell))]
    hidden = hidden_site_keys(own, k)
    hidden |= hidden_cross_site_keys(cross, {cell.key for cell in own} - hidden, min_sites)
    return benchmarks.keys() - hidden


def publishable(
    benchmarks: BenchmarkSet, k: int = DEFAULT_MIN_CELL_SIZE, *, min_sites: int = DEFAULT_MIN_SITES
) -> BenchmarkSet:
    """Only the cells that may be shown to anyone; suppressed cells are absent."""
    keys = publishable_keys(benchmarks, k, min_sites=min_sites)
    return BenchmarkSet(benchmarks.as_of, tuple(cell for cell in benchmarks.cells if cell.key in keys))
