"""Releases on a calendar: what each covers, and the attacks of issue 22 on the rule before it.

Each attack: releases as the old rule published them, where the auditor finds it, then the same
events through the release path (`tests/support/release_path.py`: a scheduled time after every
batch), where it finds nothing.
"""

from __future__ import annotations

from datetime import timedelta

from shared.domain.aggregates import SiteState, apply_survey_response, empty_site_state
from shared.domain.audit import AttackKind, audit
from shared.domain.benchmark_set import ReachCell
from shared.domain.benchmarks import compute_benchmarks, site_cells
from shared.domain.model import (
    RecruitmentFunnelSnapshot,
    Role,
    SurveyResponse,
    TrainingSession,
    TrainingTopic,
)
from shared.domain.publication.calendar import ReleaseCalendar
from shared.domain.publication.release_gate import Coverage, advancing
from shared.domain.reader_counts import Counts, counts_of
from shared.domain.releases import Release, site_scope
from tests.support.release_path import release_path_releases
from tests.unit.domain.factories import AS_OF, INSTRUMENT, T0, intervention, response, site

K = 10
SITE = site("s1", resident=100, nurse=100, fellow=100, faculty=100)
BELONGING = "composite/s1/baseline/belonging"


def varied(count: int, role: Role | None = Role.RESIDENT, **extra) -> list[SurveyResponse]:
    return [
        response(
            {"B1": 1 + i % 5, "B2": 1 + (i * 2) % 5, "B3": 1 + (i * 3) % 5}, role=role, **extra
        )
        for i in range(count)
    ]


def fold(events: list[SurveyResponse]) -> SiteState:
    state = empty_site_state("s1")
    for event in events:
        state = apply_survey_response(state, event, INSTRUMENT)
    return state


def published_alone(number: int, events) -> Release:
    """What the single-release rule shows over `events`: a release of the old gate."""
    benchmarks = compute_benchmarks(
        [SITE],
        [INSTRUMENT],
        [e for e in events if isinstance(e, SurveyResponse)],
        [e for e in events if not isinstance(e, SurveyResponse)],
        min_cell_size=K,
        min_sites=1,
        as_of=AS_OF,
    )
    cells = tuple(c for c in benchmarks.cells if c.key.split("/")[1] == "s1")
    return Release(site_scope("s1"), number, T0, AS_OF, cells)


def path(events, **replay) -> list[Release]:
    return [
        r
        for r in release_path_releases([SITE], [INSTRUMENT], events, as_of=AS_OF, k=K, **replay)
        if r.scope == site_scope("s1")
    ]


def kinds(releases: list[Release], **told) -> set[AttackKind]:
    return {f.kind for f in audit(releases, K, **told)}


# --- the calendar and the count rule ------------------------------------------------------


def test_scheduled_times_are_aligned_and_include_each_close():
    daily = ReleaseCalendar()
    moment = AS_OF.replace(hour=15, minute=7)
    assert daily.slot(moment) == AS_OF
    close = AS_OF.replace(hour=12)
    with_close = daily.with_closes([close])
    assert with_close.slot(moment) == close
    assert with_close.next_after(AS_OF) == close
    assert with_close.next_after(close) == AS_OF + timedelta(days=1)
    assert ReleaseCalendar(timedelta(seconds=5)).slot(
        AS_OF + timedelta(seconds=12)
    ) == AS_OF + timedelta(seconds=10)


def test_a_component_advances_with_k_new_events_and_waits_with_fewer():
    released = Coverage(empty_site_state("s1"), {"baseline": 20, "interventions": 3})
    received = Coverage(
        empty_site_state("s1"), {"baseline": 29, "midpoint": 10, "interventions": 13}
    )
    assert advancing(released, received, K) == ["interventions", "midpoint"]


def test_when_a_release_is_cut_and_what_it_covers_do_not_depend_on_the_answers_waiting():
    # The same arrivals, one at a time after a first batch, with different answers: the same
    # release numbers, cut times and coverage (the old gate's decision gave away the last answer).
    calm = varied(25) + varied(12, Role.NURSE)
    loud = varied(25) + [
        response({"B1": 5, "B2": 5, "B3": 1}, role=Role.NURSE, experienced=True) for _ in range(12)
    ]

    def outline(
        events: list[SurveyResponse],
    ) -> list[tuple[int, object, dict[str, int], dict[str, int]]]:
        return [
            (r.number, r.cut_at, dict(r.covered), dict(r.held_back))
            for r in path(events, first_batch=25)
        ]

    assert outline(calm) == outline(loud)
    assert [covered for _, _, covered, _ in outline(calm)] == [{"baseline": 25}, {"baseline": 35}]


def test_a_trickle_is_released_to_within_k_minus_one_and_every_release_passes_the_auditor():
    events = varied(40) + varied(33, Role.FACULTY) + varied(21, Role.NURSE, department=None)
    releases = path(events, first_batch=10)
    assert audit(releases, K) == []
    assert [r.covered["baseline"] for r in releases] == list(range(10, 91, 10))
    assert all(waiting < K for r in releases for waiting in r.held_back.values())


# --- the attacks --------------------------------------------------------------------------


def positive(count: int, role: Role) -> list[SurveyResponse]:
    """Varied scores, every answer positive (B3 is reverse-worded)."""
    return [
        response({"B1": 4 + i % 2, "B2": 5 - i % 2, "B3": 1 + (i // 2) % 2}, role=role)
        for i in range(count)
    ]


def test_a_composite_at_100_percent_beside_hidden_parts():
    events = positive(20, Role.RESIDENT) + positive(6, Role.NURSE) + positive(5, Role.FELLOW)
    # The old rule showed the total (100 % positive, scores varied) and the residents, hid the
    # 6 nurses and 5 fellows (11 together): so every hidden one agreed with every item.
    cells = {c.key: c for c in site_cells(fold(events), SITE, as_of=AS_OF)}
    shown = (cells[f"{BELONGING}/all/all"], cells[f"{BELONGING}/role/resident"])
    assert shown[0].percent_positive == 100.0
    old = [Release(site_scope("s1"), 1, T0, AS_OF, shown)]
    assert AttackKind.HOMOGENEOUS_HIDDEN_GROUP in kinds(old)
    new = path(events, first_batch=len(events))
    assert new and audit(new, K) == []


def test_near_alike_newcomers_pin_one_score():
    first = varied(30)
    nine_and_one = [response({"B1": 3, "B2": 3, "B3": 3}) for _ in range(9)]
    nine_and_one.append(response({"B1": 4, "B2": 3, "B3": 3}))
    old = [published_alone(1, first), published_alone(2, first + nine_and_one)]
    pinned = [f for f in audit(old, K) if f.kind == AttackKind.PINNED_SCORES]
    assert pinned and "3.333" in pinned[0].description
    new = path(first + nine_and_one, batch_sizes=[30, 10])
    assert len(new) == 2 and audit(new, K) == []


def test_counts_of_people_in_reach_follow_k():
    sessions = [
        intervention(TrainingSession("t1", TrainingTopic.HEALTH_EQUITY, Role.RESIDENT, 40, 30, 3)),
        intervention(RecruitmentFunnelSnapshot("2026", 120, 40, 30, 5, 30, 12, 8, 2)),
    ]
    reach = "reach/s1"
    old_cells = (
        ReachCell("s1", "training_completion_rate", ("all",), 3 / 40, 40, describes_people=True),
        ReachCell("s1", "recruitment_count", ("2026", "matched"), 5.0, 5, describes_people=False),
    )
    old = [Release(site_scope("s1"), 1, T0, AS_OF, old_cells)]
    found = {(f.kind, f.keys[0]) for f in audit(old, K)}
    assert (AttackKind.NUMERATOR, f"{reach}/training_completion_rate/all") in found
    assert (AttackKind.SMALL_CELL, f"{reach}/recruitment_count/2026/matched") in found
    filler = [
        intervention(TrainingSession(f"x{i}", TrainingTopic.IMPLICIT_BIAS, Role.FACULTY, 0, 0, 0))
        for i in range(K)
    ]
    new = path([*sessions, *filler], first_batch=K + 2)
    shown = new[-1].by_key()
    assert f"{reach}/training_completion_rate/health_equity" not in shown
    assert f"{reach}/recruitment_count/2026/matched" not in shown
    assert f"{reach}/recruitment_count/2026/applicants" in shown
    assert audit(new, K) == []


def test_a_hidden_cell_shown_later_is_found_only_by_a_reader_who_knows_the_newcomers():
    # Release 1: 20 residents, 9 nurses (hidden), 20 with no role. Then 20 nurses arrive.
    before = varied(20) + varied(9, Role.NURSE) + varied(20, None)
    newcomers = varied(20, Role.NURSE)
    releases = path(before + newcomers, batch_sizes=[49, 20])
    assert [dict(r.covered) for r in releases] == [{"baseline": 49}, {"baseline": 69}]
    assert f"{BELONGING}/role/nurse" not in releases[0].by_key()
    assert audit(releases, K) == []  # a reader who knows nothing of the newcomers: nothing
    # A reader who submitted the newcomers (knows they were 20 nurses) gets the 9 nurses of release 1
    # whenever release 2 shows the nurses: no count rule can stop it (docs/privacy.md).
    known: dict[str, Counts] = {}
    for cell in site_cells(fold(newcomers), SITE, as_of=AS_OF):
        counts = counts_of(cell)
        if counts is not None:
            known[cell.key] = counts
    told = audit(releases, K, known_newcomers={site_scope("s1"): {2: known}})
    if f"{BELONGING}/role/nurse" in releases[1].by_key():
        assert {(f.kind, f.size) for f in told if f"{BELONGING}/role/nurse" in f.keys} >= {
            (AttackKind.SMALL_CELL, 9)
        }
    else:
        assert told == []
