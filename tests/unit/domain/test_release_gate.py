"""The release gate, one condition at a time: what may join a release, and what must wait."""

from __future__ import annotations

from shared.domain.aggregates import SiteState, apply_survey_response, empty_site_state
from shared.domain.benchmarks import site_cells
from shared.domain.model import Role, SurveyResponse, Wave
from shared.domain.publication.release_gate import Coverage, held_back, may_advance, next_coverage
from tests.unit.domain.factories import AS_OF, INSTRUMENT, response, site

SITE = site("s1", resident=100, nurse=100)
K = 10


def fold(events: list[SurveyResponse], state: SiteState | None = None) -> SiteState:
    state = state or empty_site_state("s1")
    for event in events:
        state = apply_survey_response(state, event, INSTRUMENT)
    return state


def varied(count: int, role: Role = Role.RESIDENT, **extra) -> list[SurveyResponse]:
    return [
        response({"B1": 1 + i % 5, "B2": 1 + (i * 2) % 5}, role=role, **extra) for i in range(count)
    ]


def advances(before: list[SurveyResponse], new: list[SurveyResponse]) -> bool:
    old = fold(before)
    return may_advance(
        site_cells(old, SITE, as_of=AS_OF),
        site_cells(fold(new, old), SITE, as_of=AS_OF),
        Wave.BASELINE.value,
        K,
    )


def test_growth_of_at_least_k_in_every_shown_cell_may_join():
    assert advances(varied(20) + varied(20, Role.NURSE), varied(10) + varied(10, Role.NURSE))


def test_one_new_response_waits():
    assert not advances(varied(20) + varied(20, Role.NURSE), varied(1))


def test_a_shown_cell_growing_by_fewer_than_k_waits_though_the_total_grows_by_k():
    assert not advances(varied(20) + varied(20, Role.NURSE), varied(7) + varied(3, Role.NURSE))


def test_a_cell_hidden_now_but_shown_before_waits():
    # Faculty appear: 3 of them, hidden, and the nurses (the smallest shown role) would be hidden
    # with them as a complement; the nurses' last value would stay known.
    before = varied(30) + varied(10, Role.NURSE)
    assert not advances(before, varied(10) + varied(3, Role.FACULTY))


def test_newcomers_outside_the_cells_shown_in_both_need_k_and_more_than_one_part():
    before = varied(20) + varied(20, Role.NURSE)
    # 10 new residents, and 4 new faculty alone in what the shown cells leave unexplained.
    assert not advances(before, varied(10) + varied(10, Role.NURSE) + varied(4, Role.FACULTY))


def test_newcomers_who_all_answered_alike_wait():
    before = varied(20, experienced=True) + varied(20, Role.NURSE, experienced=False)
    alike = varied(12, experienced=False) + varied(12, Role.NURSE, experienced=False)
    mixed = [
        *varied(12, experienced=True),
        *varied(12, experienced=False),
        *varied(12, Role.NURSE, experienced=True),
        *varied(12, Role.NURSE, experienced=False),
    ]
    assert not advances(before, alike)
    assert advances(before, mixed)


def test_the_next_coverage_takes_a_wave_that_may_join_and_holds_back_one_that_must_wait():
    baseline = varied(20) + varied(20, Role.NURSE)
    released = Coverage(fold(baseline), {"baseline": 40})
    more = varied(1) + [response({"B1": 1 + i % 5}, wave=Wave.FOLLOW_UP) for i in range(12)]
    received = Coverage(fold(more, fold(baseline)), {"baseline": 41, "follow_up": 12})
    coverage = next_coverage(released, received, SITE, as_of=AS_OF, k=K)
    assert coverage.events == {"baseline": 40, "follow_up": 12}  # a wave never released joins whole
    assert held_back(coverage, received) == {"baseline": 1}
