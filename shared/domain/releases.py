"""Releases: what the platform publishes, one consistent set of cells at a time.

A release replaces the whole previous release of its scope. A reader never sees half of one:
the processor writes each release as one record. The scopes are
- a site (`site_scope`): every own cell of the site (survey cells of every wave, disparities,
  changes, reach), computed over the events the release covers;
- a wave (`cross_site_scope`): the cross-site distributions and ranks of that wave, computed
  from the site totals shown in the sites' latest releases.

`covered` counts, per wave of the site's survey (and "interventions"), the events the release
covers; `held_back` the events received but not covered when it was cut. Together they say how
fresh a release is without saying which cells are waiting, or for what.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from shared.domain.benchmark_set import Cell, DistributionCell, RankCell
from shared.domain.cells import key_of
from shared.domain.model import InterventionEvent, SurveyResponse, Wave

INTERVENTIONS = "interventions"  # the `covered` / `held_back` entry counting intervention events


def component_of_event(event: SurveyResponse | InterventionEvent) -> str:
    """What a release counts an event under: its wave, or INTERVENTIONS."""
    return Wave(event.wave).value if isinstance(event, SurveyResponse) else INTERVENTIONS


def event_counts(
    events: Iterable[SurveyResponse | InterventionEvent],
) -> dict[tuple[str, str], int]:
    """Distinct events per (site, wave or INTERVENTIONS): what a site's releases count."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    seen: set[str] = set()
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            counts[(event.site_id, component_of_event(event))] += 1
    return dict(counts)


def covered_events(
    covered: Mapping[str, Mapping[str, int]], arrivals: Iterable[SurveyResponse | InterventionEvent]
) -> list[SurveyResponse | InterventionEvent]:
    """The events releases cover (`covered`: by site id, the counts of its latest release), given
    the order a site sent them in: first come first covered; a repeated event id counts once."""
    taken: dict[tuple[str, str], int] = defaultdict(int)
    seen: set[str] = set()
    result = []
    for event in arrivals:
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        component = component_of_event(event)
        if taken[(event.site_id, component)] < covered.get(event.site_id, {}).get(component, 0):
            taken[(event.site_id, component)] += 1
            result.append(event)
    return result


def site_scope(site_id: str) -> str:
    return key_of("site", site_id)


def cross_site_scope(wave: Wave) -> str:
    return key_of("cross-site", wave)


def scope_of(cell: Cell) -> str:
    """The scope a cell is released in: its wave's cross-site scope, or its site's."""
    if isinstance(cell, (DistributionCell, RankCell)):
        return cross_site_scope(cell.wave)
    return site_scope(cell.site_id)


@dataclass(frozen=True)
class Release:
    scope: str
    number: int  # 1, 2, ... within the scope; a reader keeps the highest
    cut_at: datetime  # when the processor cut it
    as_of: datetime  # the end of rolling windows its cells were computed for
    cells: tuple[Cell, ...]  # every shown cell of the scope, sorted by key
    covered: Mapping[str, int] = field(default_factory=dict)  # wave (or INTERVENTIONS) -> events
    held_back: Mapping[str, int] = field(default_factory=dict)  # wave (or INTERVENTIONS) -> events
    closed: tuple[str, ...] = ()  # waves closed at its cut: this release is their result

    def by_key(self) -> dict[str, Cell]:
        return {cell.key: cell for cell in self.cells}


@dataclass(frozen=True)
class ReleaseProgress:
    """Between releases: how many events of a scope were received since its last release."""

    scope: str
    release_number: int  # the last release of the scope (0: none yet)
    held_back: Mapping[str, int] = field(default_factory=dict)  # wave (or INTERVENTIONS) -> events
