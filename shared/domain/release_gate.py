"""The release gate: when a site's next release may be cut, and what it covers.

A release covers, per wave, a prefix of the responses received (all of them, or as many as the
last release of that wave covered), and the intervention events likewise. Each release shows
exactly what the batch reference shows over the events it covers (`suppression`). The gate
decides, wave by wave and for the interventions, whether the events received since the last
release may join: the difference between the two releases, taken as a table of its own, must be
safe. For the cells of that wave (`may_advance`):

1. Nothing shown before disappears: a cell shown in the last release is shown in the next one
   (its last value would stay known, and would be subtracted from the new totals).
2. Steps of k: every cell shown in both grows by 0 or by at least k respondents, and its
   newcomers are not alike: for the experience items at least k of them answered "yes" and at
   least k "no"; for composites their scores are not all equal.
3. The difference is complementary-safe: in every partition (a family's total and one
   dimension's cells), what the cells shown in both releases leave unexplained of the total's
   growth (newly shown cells, hidden cells and the residual) grows by 0, or by at least k people
   spread over more than one part (or one part of at least k), and those newcomers are not
   alike either (as in 2).
4. More conditions can join (`Condition`): a site's approval of its data, for example.

If a wave fails, none of its new responses are released: the release keeps that wave's last
covered state, and says how many responses it holds back. Nothing else is said about which
cells are waiting, or for what.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
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
from shared.domain.model import Site, Wave
from shared.domain.reach import reach_cells
from shared.domain.reader_counts import Counts, reveals_about_everyone, total_of
from shared.domain.releases import INTERVENTIONS
from shared.domain.suppression import (
    PARTITIONED_TYPES,
    counts,
    partitions,
    shown_site_cells,
)
from shared.domain.survey_state import TOTAL, SurveyState

Component = str  # a wave value, or INTERVENTIONS


@dataclass(frozen=True)
class Difference:
    """The cells of one component in the last release and in the candidate, before suppression."""

    component: Component
    before: Mapping[str, Cell]  # all cells of the component in the last release's state
    after: Mapping[str, Cell]  # all cells of the component in the candidate state
    shown_before: frozenset[str]
    shown_after: frozenset[str]
    k: int


Condition = Callable[[Difference], bool]


def _step_of_k(growth: int, k: int) -> bool:
    return growth == 0 or abs(growth) >= k


def nothing_disappears(difference: Difference) -> bool:
    return difference.shown_before <= difference.shown_after


def _growth(before: Cell, after: Cell) -> Counts:
    """What a reader gets by subtracting two versions of a cell."""
    assert isinstance(before, PARTITIONED_TYPES) and isinstance(after, type(before))
    return counts(after).minus(counts(before))


def steps_of_k(difference: Difference) -> bool:
    k = difference.k
    for key in difference.shown_before & difference.shown_after:
        before, after = difference.before[key], difference.after[key]
        if isinstance(before, (CompositeCell, ResponseCell, ExperienceCell)) or (
            isinstance(before, ReachCell) and before.describes_people
        ):
            grown = _growth(before, after)
            if not _step_of_k(grown.n, k) or reveals_about_everyone(grown, k):
                return False
            if isinstance(before, ReachCell) and grown.n == 0 and before != after:
                return False  # a share of people changed with no new people: a change about a few
    return True


def difference_is_complementary_safe(difference: Difference) -> bool:
    k = difference.k
    shown_in_both = difference.shown_before & difference.shown_after
    before = {
        (group.total.key, group.dimension): group
        for group in partitions(difference.before.values())[1]
    }
    for group in partitions(difference.after.values())[1]:
        total_key = group.total.key
        if total_key not in shown_in_both:
            continue  # the family was not shown before: no difference to take
        cells_before = (
            before[(total_key, group.dimension)].cells
            if (total_key, group.dimension) in before
            else ()
        )
        total_before = difference.before[total_key]
        assert isinstance(total_before, PARTITIONED_TYPES)  # as _growth checks: a family's total
        in_both = [cell.key for cell in group.cells if cell.key in shown_in_both]
        grown_total = _growth(total_before, group.total)
        unexplained = grown_total.minus(
            total_of(
                (_growth(difference.before[key], difference.after[key]) for key in in_both),
                grown_total.zero(),
            )
        )
        if unexplained.n == 0:
            continue
        n_before = {cell.key: cell.n for cell in cells_before}
        parts = [
            cell.n - n_before.get(cell.key, 0) for cell in group.cells if cell.key not in in_both
        ]
        residual = (group.total.n - sum(c.n for c in group.cells)) - (
            total_before.n - sum(n_before.values())
        )
        grown_parts = [part for part in [*parts, residual] if part != 0]
        if unexplained.n < k or (len(grown_parts) == 1 and grown_parts[0] < k):
            return False
        if reveals_about_everyone(unexplained, k):
            return False
    return True


DEFAULT_CONDITIONS: tuple[Condition, ...] = (
    nothing_disappears,
    steps_of_k,
    difference_is_complementary_safe,
)


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


def _component_cells(cells: Iterable[Cell], component: Component) -> dict[str, Cell]:
    return {cell.key: cell for cell in cells if component_of(cell) == component}


def may_advance(
    before: Sequence[Cell],
    after: Sequence[Cell],
    component: Component,
    k: int,
    conditions: Sequence[Condition] = DEFAULT_CONDITIONS,
) -> bool:
    """Whether a release may move `component` from the cells `before` to `after` (both unsuppressed)."""
    return _may_advance(
        before, _shown_keys(before, k), after, _shown_keys(after, k), component, k, conditions
    )


def _shown_keys(cells: Sequence[Cell], k: int) -> frozenset[str]:
    return frozenset(cell.key for cell in shown_site_cells(cells, k))


def _may_advance(
    before: Sequence[Cell],
    shown_before: frozenset[str],
    after: Sequence[Cell],
    shown_after: frozenset[str],
    component: Component,
    k: int,
    conditions: Sequence[Condition],
) -> bool:
    old, new = _component_cells(before, component), _component_cells(after, component)
    difference = Difference(
        component,
        old,
        new,
        frozenset(shown_before & old.keys()),
        frozenset(shown_after & new.keys()),
        k,
    )
    return all(condition(difference) for condition in conditions)


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


def next_release(
    released: Coverage,
    received: Coverage,
    site: Site,
    *,
    as_of: datetime,
    k: int,
    conditions: Sequence[Condition] = DEFAULT_CONDITIONS,
    evaluations: Evaluations | None = None,
) -> tuple[Coverage, list[Cell]]:
    """The coverage of the next release (as `next_coverage`) and the cells it shows."""
    known = evaluations if evaluations is not None else Evaluations()

    def evaluated(state: SiteState) -> tuple[list[Cell], frozenset[str]]:
        return known.of(state, site, as_of, k)

    before, shown_before = evaluated(released.state)
    state, events = released.state, dict(released.events)

    def may_join(candidate: SiteState, component: Component) -> bool:
        if not released.events.get(component):
            return True
        after, shown_after = evaluated(candidate)
        return _may_advance(before, shown_before, after, shown_after, component, k, conditions)

    for wave in Wave:
        if responses_in(received.state, wave) == responses_in(released.state, wave):
            continue
        candidate = with_wave_of(released.state, received.state, wave)
        if may_join(candidate, wave.value):
            # The first component to join makes the candidate itself: its cells are known.
            state = (
                candidate if state is released.state else with_wave_of(state, received.state, wave)
            )
            events[wave.value] = received.events.get(wave.value, 0)
    if received.events.get(INTERVENTIONS, 0) != released.events.get(INTERVENTIONS, 0):
        candidate = replace(released.state, interventions=received.state.interventions)
        if may_join(candidate, INTERVENTIONS):
            state = (
                candidate
                if state is released.state
                else replace(state, interventions=received.state.interventions)
            )
            events[INTERVENTIONS] = received.events.get(INTERVENTIONS, 0)
    cells, shown = evaluated(state)
    return Coverage(state, events), [cell for cell in cells if cell.key in shown]


def next_coverage(
    released: Coverage,
    received: Coverage,
    site: Site,
    *,
    as_of: datetime,
    k: int,
    conditions: Sequence[Condition] = DEFAULT_CONDITIONS,
) -> Coverage:
    """The coverage of the next release: every component whose new events may join, joined."""
    return next_release(released, received, site, as_of=as_of, k=k, conditions=conditions)[0]


def held_back(released: Coverage, received: Coverage) -> dict[Component, int]:
    counts: dict[Component, int] = defaultdict(int)
    for component, count in received.events.items():
        waiting = count - released.events.get(component, 0)
        if waiting:
            counts[component] = waiting
    return dict(counts)
