"""From raw events to benchmark cells: the batch reference the streaming processor reproduces.

The processor keeps a `SiteState` per site (see `aggregates`), and after each update calls the
same functions as `compute_benchmarks` does here: `site_cells` and `suppression.hidden_site_keys`
for the site that changed, then, from every site's `cross_site.site_scores`, the cross-site cells of
the groups that changed (`cross_site.group_cells`) and `suppression.hidden_cross_site_keys`. All
floats are computed from the integer and exact-rational state in a fixed order, so streaming
and batch agree bit for bit.

Percent positive as AHRQ SOPS: an item's percent positive is positive / answered; a composite's
is the average of its items' percent positive (computed exactly, rounded once).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime

from shared.domain.aggregates import (
    ROLE,
    TOTAL,
    SiteFold,
    SiteState,
    empty_site_state,
)
from shared.domain.benchmark_set import BenchmarkSet, Cell
from shared.domain.cells import CompositeCell, Experience, ExperienceCell, ResponseCell
from shared.domain.comparisons import change_cells, disparity_cells
from shared.domain.cross_site import cross_site_cells
from shared.domain.model import Instrument, InterventionEvent, Role, Site, SurveyResponse
from shared.domain.pinned_scores import items_per_composite
from shared.domain.reach import reach_cells
from shared.domain.statistics import mean_with_interval, wilson_interval
from shared.domain.suppression import DEFAULT_MIN_CELL_SIZE, DEFAULT_MIN_SITES, publishable
from shared.domain.survey_state import CompositeTally


def _percent_positive(tally: CompositeTally) -> float:
    """The mean of the items' shares positive, times 100: one exact rational, rounded once."""
    answered = [(item.positive, item.answered) for item in tally.items.values() if item.answered]
    common = math.lcm(*(n for _, n in answered))
    positive = sum(p * (common // n) for p, n in answered)
    return positive * 100 / (common * len(answered))  # int / int rounds correctly, once


def _response_rate(n: int, site: Site, dimension: str, group: str) -> float | None:
    if dimension == TOTAL:
        headcount = sum(site.eligible_headcount.values())
    elif dimension == ROLE:
        headcount = site.eligible_headcount.get(Role(group), 0)
    else:
        return None
    return n / headcount if headcount > 0 else None


def _composite_cells(state: SiteState, site: Site) -> list[CompositeCell]:
    cells = []
    for (wave, composite, dimension, group), tally in sorted(state.survey.composites.items()):
        estimate = mean_with_interval(tally.respondents, tally.score_sum, tally.score_square_sum)
        cells.append(
            CompositeCell(
                site_id=state.site_id,
                wave=wave,
                composite=composite,
                dimension=dimension,
                group=group,
                n=tally.respondents,
                mean=estimate.mean,
                mean_low=estimate.interval.low if estimate.interval else None,
                mean_high=estimate.interval.high if estimate.interval else None,
                percent_positive=_percent_positive(tally),
                response_rate=_response_rate(tally.respondents, site, dimension, group),
            )
        )
    return cells


def _response_and_experience_cells(
    state: SiteState, site: Site
) -> list[ResponseCell | ExperienceCell]:
    cells: list[ResponseCell | ExperienceCell] = []
    for (wave, dimension, group), tally in sorted(state.survey.responses.items()):
        rate = _response_rate(tally.responses, site, dimension, group)
        cells.append(ResponseCell(state.site_id, wave, dimension, group, tally.responses, rate))
        for experience, answered, yes in (
            (Experience.EXPERIENCED, tally.experienced_answered, tally.experienced_yes),
            (Experience.WITNESSED, tally.witnessed_answered, tally.witnessed_yes),
        ):
            if answered:
                share = yes / answered  # int / int rounds correctly, as float(Fraction) does
                interval = wilson_interval(share, answered)
                cells.append(
                    ExperienceCell(
                        state.site_id,
                        wave,
                        experience,
                        dimension,
                        group,
                        answered,
                        percent=share * 100.0,
                        percent_low=interval.low * 100.0,
                        percent_high=interval.high * 100.0,
                    )
                )
    return cells


def survey_cells(state: SiteState, site: Site) -> list[Cell]:
    """The cells of one site's survey (`state.survey` alone decides them), unsorted."""
    if site.site_id != state.site_id:
        raise ValueError("the state and the site differ")
    composites = _composite_cells(state, site)
    return [
        *composites,
        *_response_and_experience_cells(state, site),
        *disparity_cells(composites),
        *change_cells(composites),
    ]


def sorted_cells(*parts: Iterable[Cell]) -> list[Cell]:
    return sorted((cell for part in parts for cell in part), key=lambda cell: cell.key)


def site_cells(state: SiteState, site: Site, *, as_of: datetime) -> list[Cell]:
    """Every cell of one site, unsuppressed, sorted by key: its survey's and its reach."""
    return sorted_cells(
        survey_cells(state, site), reach_cells(state.interventions, site, as_of=as_of)
    )


def fold_site_states(
    sites: Iterable[Site],
    instruments: Iterable[Instrument],
    responses: Iterable[SurveyResponse],
    interventions: Iterable[InterventionEvent],
) -> dict[str, SiteState]:
    folds = {site.site_id: SiteFold(empty_site_state(site.site_id)) for site in sites}
    by_version = {(i.instrument_id, i.version): i for i in instruments}
    for response in responses:
        instrument = by_version.get((response.instrument_id, response.instrument_version))
        if instrument is None or response.site_id not in folds:
            raise ValueError(f"response {response.event_id}: unknown site or instrument")
        folds[response.site_id].add_response(response, instrument)
    for event in interventions:
        if event.site_id not in folds:
            raise ValueError(f"intervention {event.event_id}: unknown site {event.site_id!r}")
        folds[event.site_id].add_intervention(event)
    return {site_id: fold.freeze() for site_id, fold in folds.items()}


def benchmark_cells(
    states: Mapping[str, SiteState],
    sites: Iterable[Site],
    *,
    as_of: datetime,
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
) -> BenchmarkSet:
    """All own cells unsuppressed, and the cross-site cells over every site's total (even a hidden
    one): never publish this set, only `publishable(...)` of it, which computes those again."""
    per_site = [
        cell for site in sites for cell in site_cells(states[site.site_id], site, as_of=as_of)
    ]
    return BenchmarkSet.of(
        as_of, [*per_site, *cross_site_cells(per_site, min_cell_size=min_cell_size)]
    )


def compute_benchmarks(
    sites: Iterable[Site],
    instruments: Iterable[Instrument],
    responses: Iterable[SurveyResponse],
    interventions: Iterable[InterventionEvent],
    *,
    min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
    min_sites: int = DEFAULT_MIN_SITES,
    as_of: datetime,
) -> BenchmarkSet:
    """The publishable benchmarks of a collaborative: the batch reference."""
    sites, instruments = list(sites), list(instruments)
    states = fold_site_states(sites, instruments, responses, interventions)
    return publishable(
        benchmark_cells(states, sites, as_of=as_of),
        min_cell_size,
        min_sites=min_sites,
        items=items_per_composite(instruments),
    )
