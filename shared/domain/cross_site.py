"""Cross-site cells: distributions over the eligible sites and each site's percentile rank.

A site enters the comparison of a wave with its site-total composite cells once it has at least
`eligibility_threshold(k)` responses in that wave: SOPS's 10, or k when k is larger. Only shown
cells are ever given here: a site whose total is hidden takes part in no distribution. Everything here is a function of a few
numbers per site (`SiteScore`), so the streaming processor can keep just those numbers per
(wave, composite) group and recompute one group when one site's score changes; the batch
reference calls the same functions over every site's cells.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from shared.domain.benchmark_set import Cell, DistributionCell, Measure, RankCell
from shared.domain.cells import CompositeCell, ResponseCell
from shared.domain.model import Composite, Wave
from shared.domain.statistics import percentiles
from shared.domain.survey_state import TOTAL

# AHRQ SOPS: a site enters the cross-site comparison with at least 10 responses in the wave.
SOPS_MIN_RESPONSES = 10

Group = tuple[Wave, Composite]


@dataclass(frozen=True)
class SiteScore:
    """An eligible site's total for one wave and composite: what the cross-site cells use."""

    site_id: str
    wave: Wave
    composite: Composite
    percent_positive: float
    mean: float

    @property
    def group(self) -> Group:
        return self.wave, self.composite

    def value(self, measure: Measure) -> float:
        return self.percent_positive if measure == Measure.PERCENT_POSITIVE else self.mean


def eligibility_threshold(min_cell_size: int) -> int:
    """Responses a site needs in a wave to enter the cross-site comparison."""
    return max(SOPS_MIN_RESPONSES, min_cell_size)


def site_scores(shown_cells: Iterable[Cell], *, min_cell_size: int) -> list[SiteScore]:
    """The scores of the sites eligible in each wave, from one or more sites' shown cells."""
    cells = list(shown_cells)
    threshold = eligibility_threshold(min_cell_size)
    responses = {
        (c.site_id, c.wave): c.n
        for c in cells
        if isinstance(c, ResponseCell) and c.dimension == TOTAL
    }
    return [
        SiteScore(c.site_id, c.wave, c.composite, c.percent_positive, c.mean)
        for c in cells
        if isinstance(c, CompositeCell)
        and c.dimension == TOTAL
        and responses.get((c.site_id, c.wave), 0) >= threshold
    ]


def group_cells(wave: Wave, composite: Composite, scores: Iterable[SiteScore]) -> list[Cell]:
    """Distribution and ranks of one wave and composite, both measures; empty without scores.

    The order of `scores` does not matter: percentiles sort, ranks count. A rank is
    `statistics.percentile_rank`, the values the same as or lower counted by bisection over the
    sorted values (one sort per measure, not a pass over every site for each site).
    """
    eligible = [score for score in scores if score.wave == wave and score.composite == composite]
    if not eligible:
        return []
    result: list[Cell] = []
    sites = len(eligible)
    for measure in Measure:
        values = [score.value(measure) for score in eligible]
        ordered = sorted(values)
        result.append(DistributionCell(wave, composite, measure, sites, *percentiles(ordered)))
        result.extend(
            RankCell(
                score.site_id,
                wave,
                composite,
                measure,
                value,
                bisect_right(ordered, value) / sites,
                sites,
            )
            for score, value in zip(eligible, values, strict=True)
        )
    return result


def cross_site_cells_of(scores: Iterable[SiteScore]) -> list[Cell]:
    by_group: dict[Group, list[SiteScore]] = {}
    for score in scores:
        by_group.setdefault(score.group, []).append(score)
    result = [
        cell
        for (wave, composite), group in by_group.items()
        for cell in group_cells(wave, composite, group)
    ]
    return sorted(result, key=lambda cell: cell.key)


def cross_site_cells(shown_cells: Iterable[Cell], *, min_cell_size: int) -> list[Cell]:
    """Distributions and percentile ranks from the shown site-total cells of every site."""
    return cross_site_cells_of(site_scores(shown_cells, min_cell_size=min_cell_size))
