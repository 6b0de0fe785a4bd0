"""Intervention reach by hand: training, incidents, coverage, recruitment."""

from datetime import UTC, datetime

import pytest

from shared.domain.aggregates import apply_intervention, empty_site_state
from shared.domain.model import (
    AffinityGroupMeeting,
    BiasIncidentAcknowledged,
    BiasIncidentReported,
    BiasIncidentResolved,
    CommunityPartnership,
    IncidentCategory,
    Lever,
    MentoringPairing,
    PolicyChange,
    PolicyStage,
    Principle,
    RecruitmentFunnelSnapshot,
    Role,
    TrainingSession,
    TrainingTopic,
)
from shared.domain.reach import ReachMetric, reach_cells, twelve_months_before

from .factories import AS_OF, T0, hours_after, intervention, site

HE, BIAS = TrainingTopic.HEALTH_EQUITY, TrainingTopic.IMPLICIT_BIAS


def utc(*parts):
    return datetime(*parts, tzinfo=UTC)


def reach(events, **headcount):
    state = empty_site_state("s1")
    for event in events:
        state = apply_intervention(state, event)
    return {
        (c.metric, c.qualifier): c
        for c in reach_cells(state.interventions, site(**headcount), as_of=AS_OF)
    }


def value(cells, metric, *qualifier):
    return cells[(metric.value, qualifier)].value


def test_training_reach():
    cells = reach(
        [
            intervention(
                TrainingSession("t1", BIAS, Role.NURSE, 30, 30, 30), at=AS_OF.replace(year=2025)
            ),
            intervention(TrainingSession("t2", HE, Role.RESIDENT, 20, 18, 15), at=utc(2025, 10, 1)),
            intervention(TrainingSession("t3", HE, Role.RESIDENT, 10, 6, 5), at=utc(2026, 2, 10)),
            intervention(TrainingSession("t4", HE, Role.FACULTY, 10, 10, 10), at=AS_OF),
        ],
        resident=40,
    )
    assert value(cells, ReachMetric.HEALTH_EQUITY_TRAINED_SHARE, "resident") == 20 / 40
    assert cells[(ReachMetric.HEALTH_EQUITY_TRAINED_SHARE.value, ("resident",))].n == 40
    assert value(cells, ReachMetric.TRAINING_COMPLETION_RATE, "health_equity") == 30 / 40
    assert value(cells, ReachMetric.TRAINING_COMPLETION_RATE, "all") == 60 / 70
    quarters = {
        q[0]: c.value
        for (m, q), c in cells.items()
        if m == ReachMetric.TRAINING_SESSIONS_PER_QUARTER
    }
    assert quarters == {"2025-Q2": 1, "2025-Q4": 1, "2026-Q1": 1, "2026-Q2": 1}
    # The window is (as_of - 12 months, as_of]: t1, exactly twelve months back, is outside it.
    assert value(cells, ReachMetric.TRAINING_SESSIONS_TWELVE_MONTHS) == 3


def test_twelve_months_before_a_leap_day():
    assert twelve_months_before(utc(2028, 2, 29, 12)) == utc(2027, 2, 28, 12)


def test_incident_times_and_backlog():
    def lifecycle(incident, acknowledged_after=None, resolved_after=None, reported=True):
        events = (
            [intervention(BiasIncidentReported(incident, IncidentCategory.RACISM), at=T0)]
            if reported
            else []
        )
        if acknowledged_after is not None:
            events.append(
                intervention(
                    BiasIncidentAcknowledged(incident), at=hours_after(T0, acknowledged_after)
                )
            )
        if resolved_after is not None:
            events.append(
                intervention(BiasIncidentResolved(incident), at=hours_after(T0, resolved_after))
            )
        return events

    events = (
        lifecycle("i1", 2, 48)
        + lifecycle("i2", 10)
        + lifecycle("i3", 4, 24)
        + lifecycle("i4", resolved_after=5, reported=False)  # its report has not arrived yet
    )
    cells = reach(events[::-1])
    assert value(cells, ReachMetric.INCIDENT_HOURS_TO_ACKNOWLEDGE, "median") == 4.0
    assert value(cells, ReachMetric.INCIDENT_HOURS_TO_ACKNOWLEDGE, "p90") == pytest.approx(8.8)
    assert value(cells, ReachMetric.INCIDENT_HOURS_TO_RESOLVE, "median") == 36.0
    assert value(cells, ReachMetric.INCIDENT_HOURS_TO_RESOLVE, "p90") == pytest.approx(45.6)
    assert cells[(ReachMetric.INCIDENT_HOURS_TO_RESOLVE.value, ("median",))].n == 2
    assert value(cells, ReachMetric.INCIDENT_OPEN_BACKLOG) == 1


def test_programme_counts_and_coverage():
    cells = reach(
        [
            intervention(
                MentoringPairing("m1", Role.RESIDENT, Role.FACULTY),
                levers=frozenset({Lever.CONNECTION}),
            ),
            intervention(
                PolicyChange("p1", PolicyStage.PROPOSED, "t"),
                principles=frozenset({Principle.ACKNOWLEDGE_AND_LEARN}),
            ),
            intervention(
                PolicyChange("p1", PolicyStage.IMPLEMENTED, "t"),
                levers=frozenset({Lever.SPEAKING_UP}),
            ),
            intervention(PolicyChange("p2", PolicyStage.ADOPTED, "t")),
            intervention(
                CommunityPartnership("c1", "school"), levers=frozenset({Lever.CONNECTION})
            ),
            intervention(CommunityPartnership("c1", "school")),  # the same partnership again
            intervention(AffinityGroupMeeting("g1", 12)),
            intervention(AffinityGroupMeeting("g1", 9)),
        ]
    )
    assert value(cells, ReachMetric.LEVER_COVERAGE, "connection") == 2
    assert value(cells, ReachMetric.LEVER_COVERAGE, "awareness") == 0
    assert value(cells, ReachMetric.PRINCIPLE_COVERAGE, "acknowledge_and_learn") == 1
    assert value(cells, ReachMetric.MENTORING_PAIRINGS, "resident") == 1
    assert [
        value(cells, ReachMetric.POLICIES, stage)
        for stage in ("proposed", "adopted", "implemented")
    ] == [0, 1, 1]
    assert value(cells, ReachMetric.COMMUNITY_PARTNERSHIPS) == 1
    assert value(cells, ReachMetric.AFFINITY_MEETINGS) == 2


def test_latest_recruitment_funnel_per_cycle():
    cells = reach(
        [
            intervention(
                RecruitmentFunnelSnapshot("2026", 120, 60, 40, 8, 30, 15, 10, 2),
                at=hours_after(T0, 1),
            ),
            intervention(RecruitmentFunnelSnapshot("2026", 100, 50, 30, 0, 20, 10, 6, 0), at=T0),
        ]
    )
    assert value(cells, ReachMetric.RECRUITMENT_COUNT, "2026", "applicants") == 120
    assert value(cells, ReachMetric.RECRUITMENT_URIM_SHARE, "2026", "applicants") == 0.25
    matched = cells[(ReachMetric.RECRUITMENT_URIM_SHARE.value, ("2026", "matched"))]
    assert (matched.value, matched.n, matched.describes_people) == (0.25, 8, True)
