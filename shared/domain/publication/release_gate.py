"""The release gate: at a scheduled release time, what a site's next release covers.

A release covers, per wave, either every response received or exactly what the wave's last
release covered; the interventions likewise. At a scheduled time (`calendar`) a component
advances when at least k of its events arrived since its last release: a count, which the
progress records publish anyway. Nothing about whether a release is cut, or what it covers,
depends on the answers waiting. So at most k-1 events of a component ever wait, and they go out
with the first scheduled release after k have gathered.

Which cells the release shows is `cell_choice`'s business: what suppression shows over the
events covered, less whatever earlier releases of the scope make unsafe.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from shared.domain.aggregates import SiteState
from shared.domain.benchmark_set import Cell, ReachCell
from shared.domain.benchmarks import sorted_cells, survey_cells
from shared.domain.cells import (
    ChangeCell,
    CompositeCell,
    DisparityCell,
    ExperienceCell,
    ResponseCell,
)
from shared.domain.model import Composite, Instrument, Site, Wave
from shared.domain.publication.cell_choice import choose_shown
from shared.domain.published import PublishedRelease, published_cell
from shared.domain.reach import reach_cells
from shared.domain.releases import INTERVENTIONS, site_scope
from shared.domain.suppression import shown_site_cells
from shared.domain.survey_state import TOTAL, SurveyState

Component = str  # a wave value, or INTERVENTIONS


def component_of(cell: Cell) -> Component | None:
    """The component a site cell belongs to: its wave (a change: its later wave), or interventions."""
    if isinstance(cell, ReachCell):
        return INTERVENTIONS
    if isinstance(cell, ChangeCell):
        return cell.to_wave.value
    if isinstance(cell, (CompositeCell, ResponseCell, ExperienceCell, DisparityCell)):
        return cell.wave.value
    return None


def responses_in(state: SiteState, wave: Wave) -> int:
    tally = state.survey.responses.get((wave, TOTAL, TOTAL))
    return tally.responses if tally else 0


def with_wave_of(target: SiteState, source: SiteState, wave: Wave) -> SiteState:
    """`target` with the survey tallies of `wave` taken from `source`."""
    composites = {key: value for key, value in target.survey.composites.items() if key[0] != wave}
    composites.update(
        {key: value for key, value in source.survey.composites.items() if key[0] == wave}
    )
    responses = {key: value for key, value in target.survey.responses.items() if key[0] != wave}
    responses.update(
        {key: value for key, value in source.survey.responses.items() if key[0] == wave}
    )
    return replace(target, survey=SurveyState(composites, responses))


@dataclass(frozen=True)
class Coverage:
    """What a release covers: the state over the events it includes, and how many they are."""

    state: SiteState
    events: Mapping[Component, int] = field(default_factory=dict)  # per wave, and INTERVENTIONS


def _shown_keys(cells: Sequence[Cell], k: int) -> frozenset[str]:
    return frozenset(cell.key for cell in shown_site_cells(cells, k))


class Evaluations:
    """The cells of the states looked at, and which of them are shown, computed once per state.

    States are immutable, so an entry found for the same state object (and the same site, as_of
    and k) is still right; a caller may keep one across releases of a site (`keep_only`). A
    state's survey cells and reach cells are kept apart too: a candidate that joins one
    component to the last release shares the other component's part with it.
    """

    def __init__(self) -> None:
        self._entries: dict[
            int, tuple[SiteState, Site, datetime, int, list[Cell], frozenset[str]]
        ] = {}
        self._survey: dict[int, tuple[SiteState, Site, list[Cell]]] = {}
        self._reach: dict[int, tuple[SiteState, Site, datetime, list[Cell]]] = {}

    def _survey_cells(self, state: SiteState, site: Site) -> list[Cell]:
        found = self._survey.get(id(state.survey))
        if found is None or found[0].survey is not state.survey or found[1] != site:
            found = self._survey[id(state.survey)] = (state, site, survey_cells(state, site))
        return found[2]

    def _reach_cells(self, state: SiteState, site: Site, as_of: datetime) -> list[Cell]:
        found = self._reach.get(id(state.interventions))
        if (
            found is None
            or found[0].interventions is not state.interventions
            or found[1:3] != (site, as_of)
        ):
            cells: list[Cell] = list(reach_cells(state.interventions, site, as_of=as_of))
            found = self._reach[id(state.interventions)] = (state, site, as_of, cells)
        return found[3]

    def of(
        self, state: SiteState, site: Site, as_of: datetime, k: int
    ) -> tuple[list[Cell], frozenset[str]]:
        found = self._entries.get(id(state))
        if found is None or found[0] is not state or found[1:4] != (site, as_of, k):
            if site.site_id != state.site_id:
                raise ValueError("the state and the site differ")
            cells = sorted_cells(
                self._survey_cells(state, site), self._reach_cells(state, site, as_of)
            )
            found = (state, site, as_of, k, cells, _shown_keys(cells, k))
            self._entries[id(state)] = found
        return found[4], found[5]

    def keep_only(self, state: SiteState) -> None:
        """Forget every state but `state` (the last release's, to be found again next time)."""
        found = self._entries.get(id(state))
        self._entries = {id(state): found} if found is not None and found[0] is state else {}
        survey = self._survey.get(id(state.survey))
        self._survey = (
            {id(state.survey): survey}
            if survey is not None and survey[0].survey is state.survey
            else {}
        )
        reach = self._reach.get(id(state.interventions))
        self._reach = (
            {id(state.interventions): reach}
            if reach is not None and reach[0].interventions is state.interventions
            else {}
        )


def advancing(released: Coverage, received: Coverage, k: int) -> list[Component]:
    """The components with at least k events received since the last release."""
    components = sorted({*received.events, *released.events})
    return [
        component
        for component in components
        if received.events.get(component, 0) - released.events.get(component, 0) >= k
    ]


def next_coverage(released: Coverage, received: Coverage, k: int) -> Coverage:
    """What the release at a scheduled time covers: every component with k new events, whole."""
    state, events = released.state, dict(released.events)
    for component in advancing(released, received, k):
        if component == INTERVENTIONS:
            state = replace(state, interventions=received.state.interventions)
        else:
            state = with_wave_of(state, received.state, Wave(component))
        events[component] = received.events[component]
    return Coverage(state, events)


def next_release(
    released: Coverage,
    received: Coverage,
    site: Site,
    *,
    as_of: datetime,
    k: int,
    earlier: Sequence[PublishedRelease] = (),
    scope: str = "",
    number: int = 1,
    items_per_composite: Mapping[Composite, int] | None = None,
    open_waves: frozenset[Wave] = frozenset(),
    closed_since_last: bool = False,
    evaluations: Evaluations | None = None,
) -> tuple[Coverage, list[Cell], frozenset[str]]:
    """The coverage of release `number` of the site, the cells it shows (safe with `earlier`,
    the scope's releases before it) and the keys hidden only because of those.

    Waves still open (`open_waves`: their close is after this release) show their composite and
    response totals only: an interim release. Every breakdown shown before the close would anchor a value that the
    closing release must then grow by k from, or hide; with totals only, the release at the close
    shows nearly every cell that one upload of the same responses would (the rollout test).
    A release in which nothing advanced, and no wave closed since the last one
    (`closed_since_last`), keeps the cells about people its scope showed last.
    """
    known = evaluations if evaluations is not None else Evaluations()
    coverage = next_coverage(released, received, k)
    cells, _ = known.of(coverage.state, site, as_of, k)
    withheld = {cell.key for cell in cells if _is_interim_breakdown(cell, open_waves)}
    if earlier and not closed_since_last and not advancing(released, received, k):
        last = earlier[-1].cells
        withheld |= {
            cell.key for cell in cells if cell.key not in last and published_cell(cell) is not None
        }
    shown, forced = choose_shown(
        cells,
        earlier,
        scope=scope or site_scope(site.site_id),
        number=number,
        k=k,
        items_per_composite=items_per_composite,
        withheld=withheld,
    )
    return coverage, shown, forced


def _is_interim_breakdown(cell: Cell, open_waves: frozenset[Wave]) -> bool:
    if isinstance(cell, ExperienceCell):
        # Yes counts too: a rare "yes" (one in six) grows by fewer than k between most interim
        # releases, and a total shown then would stay hidden at the close (the numerator rule).
        return cell.wave in open_waves
    if isinstance(cell, (CompositeCell, ResponseCell)):
        return cell.wave in open_waves and cell.dimension != TOTAL
    if isinstance(cell, DisparityCell):
        return cell.wave in open_waves
    if isinstance(cell, ChangeCell):
        return cell.to_wave in open_waves or cell.from_wave in open_waves
    return False


def open_waves_at(instruments: Iterable[Instrument], moment: datetime) -> frozenset[Wave]:
    """The waves whose close (in any instrument) is after `moment`."""
    return frozenset(
        window.wave
        for instrument in instruments
        for window in instrument.waves
        if window.closes_at > moment
    )


def held_back(released: Coverage, received: Coverage) -> dict[Component, int]:
    counts: dict[Component, int] = defaultdict(int)
    for component, count in received.events.items():
        waiting = count - released.events.get(component, 0)
        if waiting:
            counts[component] = waiting
    return dict(counts)
