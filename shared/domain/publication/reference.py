"""The batch reference of a set of releases: what streaming must reproduce, cell for cell.

A site's release shows, of the batch core's cells over the events it covers, those the gate
chose (the single-release rules, and more hidden where earlier releases make it necessary: a
choice the batch core cannot make alone, since it depends on the releases before). So the
reference takes *which* cells from the releases and *every value* from the batch core
(`benchmark_cells` over the events covered), and recomputes the cross-site cells from the site
totals shown. A release whose first version has no history equals `compute_benchmarks` exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from shared.domain.benchmark_set import BenchmarkSet, Cell, DistributionCell, RankCell
from shared.domain.benchmarks import benchmark_cells, fold_site_states
from shared.domain.model import Instrument, InterventionEvent, Site, SurveyResponse
from shared.domain.releases import Release
from shared.domain.suppression import shown_cross_site_cells

Event = SurveyResponse | InterventionEvent


def released_reference(
    shown: Iterable[str] | Mapping[str, Release],
    sites: Iterable[Site],
    instruments: Iterable[Instrument],
    covered: Iterable[Event],
    *,
    min_cell_size: int,
    min_sites: int,
    as_of: datetime,
) -> BenchmarkSet:
    """The batch core's values over `covered` (the events the latest releases cover), on the
    site cells shown (keys, or the latest releases by scope), with the cross-site cells over
    those. A key shown that the core does not compute stays out (so a comparison fails)."""
    sites = list(sites)
    events = list(covered)
    states = fold_site_states(
        sites,
        instruments,
        [e for e in events if isinstance(e, SurveyResponse)],
        [e for e in events if isinstance(e, InterventionEvent)],
    )
    computed = benchmark_cells(states, sites, as_of=as_of, min_cell_size=min_cell_size).by_key()
    keys = (
        {cell.key for release in shown.values() for cell in release.cells}
        if isinstance(shown, Mapping)
        else set(shown)
    )
    own: list[Cell] = [
        cell
        for key, cell in sorted(computed.items())
        if key in keys and not isinstance(cell, (DistributionCell, RankCell))
    ]
    return BenchmarkSet.of(as_of, [*own, *shown_cross_site_cells(own, min_cell_size, min_sites)])
