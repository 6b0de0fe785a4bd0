"""Small-cell suppression: what one publication may show, so that no one learns about fewer than k people.

A suppressed cell is absent: its n and every value derived from it are withheld together (a
percentage next to a shown n would give the count away). What several publications may show
together, one after another, is the release gate's business (`release_gate`); it builds on
the rules here.

Rules, with k the minimum cell size (default 10):
1. Primary: a breakdown cell (composite, response, experience) with n < k is hidden; so is a
   reach value that describes people with n < k. An experience cell also follows the
   numerator rule: neither its "yes" count nor its "no" count may be 1..k-1.
2. Complementary, per partition: a family's total (dimension "all") and the cells of one
   dimension; the training completion rate of all topics and its per-topic rates. Respondents
   who left that dimension blank or preferred not to say form an implicit residual (total minus
   the dimension's cells), never published. Whatever the shown cells leave of the total (the
   remainder) is recoverable by subtraction, so
   - the hidden parts (hidden cells, plus the residual when it is not empty) must together cover
     at least k people, and must not be a single part smaller than k;
   - for experience items, the remainder's "yes" and "no" counts follow the numerator rule too,
     and the remainder may not be unanimous (all "yes" or all "no");
   - for composites, the remainder's scores may not all be equal (its variance, derivable from
     the shown means and intervals, may not be 0).
   Until that holds, the smallest shown cell (ties: by key) is hidden too. When every cell of
   the dimension is hidden, the remainder is the total, which says nothing new.
3. A family is hidden whole when its total is hidden (n < k, or the numerator rule), or when
   the total is unanimous (experience 0 % or 100 %, or a composite with no variance) while any
   part of the family is hidden: every hidden member would then share the total's answer.
4. A distribution over fewer than `min_sites` sites is hidden: with five percentiles of a
   handful of sites, each site's value can be solved for. Distributions and ranks are computed
   only from site totals that are shown (`cross_site`).
5. A disparity, change or rank cell is hidden when any cell it is computed from is hidden.

`hidden_site_keys` applies rules 1, 2, 3 and 5 to one site's own cells; `hidden_cross_site_keys`
rules 4 and 5 to cross-site cells; `publishable` is the two together, the batch reference.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass

from shared.domain.benchmark_set import BenchmarkSet, Cell, DistributionCell, RankCell, ReachCell
from shared.domain.cells import (
    ChangeCell,
    CompositeCell,
    DisparityCell,
    ExperienceCell,
    ResponseCell,
)
from shared.domain.cross_site import cross_site_cells
from shared.domain.model import Composite
from shared.domain.pinned_scores import DEFAULT_ITEMS_PER_COMPOSITE, pinned_odd_score
from shared.domain.reader_counts import (
    Counts,
    counts_of,
    in_small_range,
    reveals_about_everyone,
    total_of,
)
from shared.domain.survey_state import TOTAL

DEFAULT_MIN_CELL_SIZE = 10
DEFAULT_MIN_SITES = 10
COMPLETION_RATE = "training_completion_rate"
ALL_TOPICS = ("all",)

Partitioned = CompositeCell | ResponseCell | ExperienceCell | ReachCell
PARTITIONED_TYPES = (CompositeCell, ResponseCell, ExperienceCell, ReachCell)


def counts(cell: Partitioned) -> Counts:
    found = counts_of(cell)
    assert found is not None, "a partitioned cell is about people"
    return found


def is_unanimous(cell: Partitioned) -> bool:
    """Whether a shown total says that all its members answered alike (a composite at 0 % or
    100 % positive: every one agreed, or disagreed, with every item they answered)."""
    total = counts(cell)
    return (
        (total.yes is not None and total.yes in (0, total.n))
        or total.scores_all_equal()
        or (isinstance(cell, CompositeCell) and cell.percent_positive in (0.0, 100.0))
    )


ItemCounts = Mapping[Composite, int]  # items per composite: the grid its scores lie on


def _items_of(cell: Partitioned, items: ItemCounts | None) -> int:
    if not isinstance(cell, CompositeCell):
        return 0
    return (items or {}).get(cell.composite, DEFAULT_ITEMS_PER_COMPOSITE)


def _pinned(cell: Counts, items: int) -> bool:
    """Scores that fit one placement, all but one alike (`pinned_scores`); 0 items: not scores."""
    return items > 0 and pinned_odd_score(cell, items) is not None


def _parts_are_safe(hidden_sizes: Sequence[int], residual: int, k: int) -> bool:
    parts = [*hidden_sizes, *([residual] if residual > 0 else [])]
    return not parts or (sum(parts) >= k and (len(parts) >= 2 or parts[0] >= k))


def hidden_in_partition(total: int, cells: Mapping[str, int], k: int) -> set[str]:
    """Keys to hide among one dimension's cells (key -> n) under a shown total of `total` people."""
    return _hidden_in_partition(Counts(total), {key: Counts(n) for key, n in cells.items()}, k)


def _hidden_in_partition(
    total: Counts,
    cells: Mapping[str, Counts],
    k: int,
    forced: Set[str] = frozenset(),
    items: int = 0,
) -> set[str]:
    residual = total.n - sum(cell.n for cell in cells.values())
    if residual < 0:
        raise ValueError("a partition's cells exceed its total")
    hidden = {
        key
        for key, cell in cells.items()
        if cell.n < k or _numerator_reveals(cell, k) or _pinned(cell, items) or key in forced
    }
    shown = sorted((cell.n, key) for key, cell in cells.items() if key not in hidden)

    def safe() -> bool:
        if not shown:  # the remainder is the total: nothing new
            return True
        remainder = total.minus(total_of((cells[key] for _, key in shown), total.zero()))
        return (
            _parts_are_safe([cells[key].n for key in hidden], residual, k)
            and not reveals_about_everyone(remainder, k)
            and not _pinned(remainder, items)
        )

    while not safe():
        hidden.add(shown.pop(0)[1])
    return hidden


def _numerator_reveals(cell: Counts, k: int) -> bool:
    """A count of people inside the cell (said yes, or not; completed, or not) of 1..k-1."""
    return any(
        part is not None and (in_small_range(part, k) or in_small_range(cell.n - part, k))
        for part in (cell.yes, cell.completed)
    )


@dataclass(frozen=True)
class Partition:
    """A total and the cells of one of its dimensions, which add up to it with a residual."""

    total: Partitioned
    dimension: str  # "topic" for reach; "" for a total without any breakdown
    cells: tuple[Partitioned, ...]


def partitions(cells: Iterable[Cell]) -> tuple[list[Partitioned], list[Partition]]:
    """The family totals (or lone members without a total) and every partition under them."""
    families: dict[str, list[Partitioned]] = defaultdict(list)
    for cell in cells:
        if isinstance(cell, (CompositeCell, ResponseCell, ExperienceCell)):
            families[cell.family].append(cell)
        elif isinstance(cell, ReachCell) and cell.metric == COMPLETION_RATE:
            families[f"reach/{cell.site_id}/{cell.metric}"].append(cell)
    orphans: list[Partitioned] = []
    result: list[Partition] = []
    for members in families.values():
        total = next((cell for cell in members if _is_total(cell)), None)
        if total is None:
            orphans.extend(members)
            continue
        by_dimension: dict[str, list[Partitioned]] = defaultdict(list)
        for cell in members:
            if cell is not total:
                by_dimension[_dimension(cell)].append(cell)
        result.extend(
            Partition(total, dimension, tuple(group)) for dimension, group in by_dimension.items()
        )
        if not by_dimension:
            result.append(Partition(total, "", ()))
    return orphans, result


def _is_total(cell: Partitioned) -> bool:
    return cell.qualifier == ALL_TOPICS if isinstance(cell, ReachCell) else cell.dimension == TOTAL


def _dimension(cell: Partitioned) -> str:
    return "topic" if isinstance(cell, ReachCell) else cell.dimension


def _hidden_partitioned_keys(
    cells: Iterable[Cell], k: int, forced: Set[str] = frozenset(), items: ItemCounts | None = None
) -> set[str]:
    orphans, groups = partitions(cells)
    hidden = {cell.key for cell in orphans}
    by_total: dict[str, list[Partition]] = defaultdict(list)
    for group in groups:
        by_total[group.total.key].append(group)
    for family in by_total.values():
        total = family[0].total
        members = [cell for group in family for cell in group.cells]
        hidden_inside = [
            _hidden_in_partition(
                counts(group.total),
                {cell.key: counts(cell) for cell in group.cells},
                k,
                forced,
                _items_of(group.total, items),
            )
            for group in family
        ]
        some_part_hidden = any(hidden_inside) or any(
            group.total.n > sum(cell.n for cell in group.cells) for group in family if group.cells
        )
        if (
            total.n < k
            or total.key in forced
            or _numerator_reveals(counts(total), k)
            or _pinned(counts(total), _items_of(total, items))
            or (is_unanimous(total) and some_part_hidden)
        ):
            hidden.add(total.key)
            hidden.update(cell.key for cell in members)
            continue
        for keys in hidden_inside:
            hidden |= keys
    return hidden


def _check_limits(k: int, min_sites: int) -> None:
    if k < 1 or min_sites < 1:
        raise ValueError("the minimum cell size and the minimum number of sites are at least 1")


def _hidden_derived_keys(cells: Iterable[Cell], hidden: Set[str], present: Set[str]) -> set[str]:
    return {
        cell.key
        for cell in cells
        if isinstance(cell, (DisparityCell, ChangeCell, RankCell))
        and any(key in hidden or key not in present for key in cell.depends_on)
    }


def hidden_site_keys(
    cells: Iterable[Cell],
    k: int = DEFAULT_MIN_CELL_SIZE,
    *,
    forced: Set[str] = frozenset(),
    items: ItemCounts | None = None,
) -> set[str]:
    """Rules 1, 2, 3 and 5 over sites' own cells (no distribution or rank): the keys to withhold.

    Every rule here looks at one site's cells only, so the processor applies it to the site
    that changed, and the batch reference to all sites at once, with the same result. `forced`
    keys are hidden whatever their size (the release gate's choice), and the rules then protect
    them like any other hidden cell.
    """
    _check_limits(k, 1)
    cells = list(cells)
    hidden = _hidden_partitioned_keys(cells, k, forced, items)
    for cell in cells:
        if isinstance(cell, ReachCell) and cell.describes_people:
            people = counts(cell)
            if cell.n < k or _numerator_reveals(people, k) or cell.key in forced:
                hidden.add(cell.key)
    return hidden | _hidden_derived_keys(cells, hidden, {cell.key for cell in cells})


def hidden_cross_site_keys(cells: Iterable[Cell], min_sites: int = DEFAULT_MIN_SITES) -> set[str]:
    """Rules 4 and 5 over distribution and rank cells computed from shown site totals."""
    _check_limits(1, min_sites)
    cells = list(cells)
    # A rank depends on the distribution of its wave, composite and measure (`depends_on[1]`):
    # found by those three rather than by building each rank's dependency key.
    hidden = {
        (cell.wave, cell.composite, cell.measure)
        for cell in cells
        if isinstance(cell, DistributionCell) and cell.sites < min_sites
    }
    if not hidden:
        return set()
    return {
        cell.key
        for cell in cells
        if isinstance(cell, (DistributionCell, RankCell))
        and (cell.wave, cell.composite, cell.measure) in hidden
    }


def shown_site_cells(
    cells: Iterable[Cell], k: int = DEFAULT_MIN_CELL_SIZE, *, items: ItemCounts | None = None
) -> list[Cell]:
    cells = list(cells)
    hidden = hidden_site_keys(cells, k, items=items)
    return [cell for cell in cells if cell.key not in hidden]


def shown_cross_site_cells(
    shown_own: Iterable[Cell], k: int = DEFAULT_MIN_CELL_SIZE, min_sites: int = DEFAULT_MIN_SITES
) -> list[Cell]:
    """Distributions and ranks over the site totals that are shown, for eligible sites only."""
    cells = cross_site_cells(shown_own, min_cell_size=k)
    hidden = hidden_cross_site_keys(cells, min_sites)
    return [cell for cell in cells if cell.key not in hidden]


def publishable(
    benchmarks: BenchmarkSet,
    k: int = DEFAULT_MIN_CELL_SIZE,
    *,
    min_sites: int = DEFAULT_MIN_SITES,
    items: ItemCounts | None = None,
) -> BenchmarkSet:
    """Only the cells that may be shown to anyone; suppressed cells are absent.

    Cross-site cells in `benchmarks` are ignored: they are computed again from the shown site
    totals, so that no hidden site enters a distribution.
    """
    _check_limits(k, min_sites)
    own = shown_site_cells(
        (c for c in benchmarks.cells if not isinstance(c, (DistributionCell, RankCell))),
        k,
        items=items,
    )
    return BenchmarkSet.of(benchmarks.as_of, [*own, *shown_cross_site_cells(own, k, min_sites)])


def publishable_keys(
    benchmarks: BenchmarkSet, k: int = DEFAULT_MIN_CELL_SIZE, *, min_sites: int = DEFAULT_MIN_SITES
) -> frozenset[str]:
    return publishable(benchmarks, k, min_sites=min_sites).keys()
