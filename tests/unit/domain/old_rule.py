"""The single-publication rule as it was before releases, kept to replay the attacks on it.

Primary suppression (n < k) and complementary suppression by counts only; reach values about
people need k people, with no complement; distributions over every site with 10 responses
(not k), read from unsuppressed cells, even a site whose total is hidden. Nothing here is used
outside the regression tests: it is what they show the auditor catching.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from shared.domain.benchmark_set import BenchmarkSet, Cell, DistributionCell, RankCell, ReachCell
from shared.domain.benchmarks import fold_site_states, site_cells
from shared.domain.cells import (
    ChangeCell,
    CompositeCell,
    DisparityCell,
    ExperienceCell,
    ResponseCell,
)
from shared.domain.cross_site import cross_site_cells_of, site_scores
from shared.domain.model import Instrument, InterventionEvent, Site, SurveyResponse
from shared.domain.suppression import hidden_in_partition
from shared.domain.survey_state import TOTAL


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
        for partition in by_dimension.values():
            hidden |= hidden_in_partition(total.n, partition, k)
    return hidden


def old_compute_benchmarks(
    sites: Sequence[Site],
    instruments: Sequence[Instrument],
    responses: Iterable[SurveyResponse],
    interventions: Iterable[InterventionEvent],
    *,
    min_cell_size: int,
    min_sites: int,
    as_of: datetime,
) -> BenchmarkSet:
    states = fold_site_states(sites, instruments, responses, interventions)
    own = [cell for site in sites for cell in site_cells(states[site.site_id], site, as_of=as_of)]
    cross = cross_site_cells_of(
        site_scores(own, min_cell_size=1)
    )  # eligibility: 10 responses, hidden or not
    hidden = _hidden_breakdown_keys(own, min_cell_size)
    hidden |= {
        c.key
        for c in own
        if isinstance(c, ReachCell) and c.describes_people and c.n < min_cell_size
    }
    hidden |= {c.key for c in cross if isinstance(c, DistributionCell) and c.sites < min_sites}
    present = {cell.key for cell in [*own, *cross]}
    everything = [*own, *cross]
    hidden |= {
        c.key
        for c in everything
        if isinstance(c, (DisparityCell, ChangeCell, RankCell))
        and any(key in hidden or key not in present for key in c.depends_on)
    }
    return BenchmarkSet.of(as_of, [cell for cell in everything if cell.key not in hidden])
