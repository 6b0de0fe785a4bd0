"""Comparisons inside a site: disparity gaps between groups, and change between waves.

Both compare the percent positive of two composite cells. A composite's percent positive is an
average of item shares, not a count, so its interval treats it as a proportion observed over
the cell's n respondents (pooling item answers instead would overstate n: one respondent's
answers are correlated). The interval of the difference is Newcombe's hybrid score interval;
the two samples are independent (a disparity compares disjoint groups; the anonymous survey
cannot pair a respondent's waves).
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.domain.cells import ChangeCell, ChangeDirection, CompositeCell, DisparityCell
from shared.domain.model import PREFER_NOT_TO_SAY, REFERENCE_GROUP, Wave
from shared.domain.statistics import DifferenceEstimate, proportion_difference

# Each later wave against the baseline.
CHANGE_PAIRS: tuple[tuple[Wave, Wave], ...] = (
    (Wave.BASELINE, Wave.MIDPOINT),
    (Wave.BASELINE, Wave.FOLLOW_UP),
)
_REFERENCE_BY_DIMENSION = {dimension.value: group for dimension, group in REFERENCE_GROUP.items()}


def _difference(later: CompositeCell, earlier: CompositeCell) -> DifferenceEstimate:
    return proportion_difference(
        later.percent_positive / 100.0, later.n, earlier.percent_positive / 100.0, earlier.n
    )


def disparity_cells(composite_cells: Iterable[CompositeCell]) -> list[DisparityCell]:
    cells = {(c.site_id, c.wave, c.composite, c.dimension, c.group): c for c in composite_cells}
    disparities = []
    for (site_id, wave, composite, dimension, group), cell in sorted(cells.items()):
        reference_group = _REFERENCE_BY_DIMENSION.get(dimension)
        if reference_group is None or group in (reference_group, PREFER_NOT_TO_SAY):
            continue
        reference = cells.get((site_id, wave, composite, dimension, reference_group))
        if reference is None:
            continue
        estimate = _difference(cell, reference)
        disparities.append(
            DisparityCell(
                site_id=site_id,
                wave=wave,
                composite=composite,
                dimension=dimension,
                group=group,
                reference_group=reference_group,
                n=cell.n,
                reference_n=reference.n,
                percent_positive=cell.percent_positive,
                reference_percent_positive=reference.percent_positive,
                difference=estimate.difference * 100.0,
                difference_low=estimate.interval.low * 100.0,
                difference_high=estimate.interval.high * 100.0,
                significant=estimate.significant,
            )
        )
    return disparities


def _direction(estimate: DifferenceEstimate) -> ChangeDirection:
    if estimate.interval.low > 0.0:
        return ChangeDirection.IMPROVED
    if estimate.interval.high < 0.0:
        return ChangeDirection.DECLINED
    return ChangeDirection.NO_CLEAR_CHANGE


def change_cells(composite_cells: Iterable[CompositeCell]) -> list[ChangeCell]:
    cells = {(c.site_id, c.composite, c.dimension, c.group, c.wave): c for c in composite_cells}
    changes = []
    for (site_id, composite, dimension, group, wave), earlier in sorted(cells.items()):
        for from_wave, to_wave in CHANGE_PAIRS:
            later = cells.get((site_id, composite, dimension, group, to_wave))
            if wave != from_wave or later is None:
                continue
            estimate = _difference(later, earlier)
            changes.append(
                ChangeCell(
                    site_id=site_id,
                    composite=composite,
                    dimension=dimension,
                    group=group,
                    from_wave=from_wave,
                    to_wave=to_wave,
                    from_n=earlier.n,
                    to_n=later.n,
                    from_percent_positive=earlier.percent_positive,
                    to_percent_positive=later.percent_positive,
                    difference=estimate.difference * 100.0,
                    difference_low=estimate.interval.low * 100.0,
                    difference_high=estimate.interval.high * 100.0,
                    direction=_direction(estimate),
                )
            )
    return changes
