"""Intervention reach of one site, computed from its accumulated intervention state.

`as_of` is passed in, never read from a clock: it ends the rolling twelve-month window
(as_of minus twelve calendar months, as_of]. Everything else counts all events folded so far.
Training counts are completions, not distinct people: events carry no person identity, so a
resident trained twice counts twice. Incident durations are in hours; a step dated before the
report (clock skew at the site) counts as zero hours.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from shared.domain.benchmark_set import ReachCell
from shared.domain.intervention_state import (
    POLICY_STAGE_ORDER,
    InterventionState,
    epoch_microseconds,
)
from shared.domain.model import Lever, Principle, Role, Site, TrainingTopic
from shared.domain.statistics import median_and_p90

_MICROSECONDS_PER_HOUR = 3_600_000_000
_FUNNEL_STAGES = ("applicants", "interviewed", "ranked", "matched")


class ReachMetric(StrEnum):
    HEALTH_EQUITY_TRAINED_SHARE = (
        "health_equity_trained_share"  # (resident,): completions / eligible residents
    )
    TRAINING_COMPLETION_RATE = "training_completion_rate"  # (topic,) or (all,): completed / invited
    TRAINING_SESSIONS_PER_QUARTER = "training_sessions_per_quarter"  # (YYYY-Qn,)
    TRAINING_SESSIONS_TWELVE_MONTHS = "training_sessions_twelve_months"  # ()
    INCIDENT_HOURS_TO_ACKNOWLEDGE = "incident_hours_to_acknowledge"  # (median,) or (p90,)
    INCIDENT_HOURS_TO_RESOLVE = "incident_hours_to_resolve"  # (median,) or (p90,)
    INCIDENT_OPEN_BACKLOG = "incident_open_backlog"  # (): reported, not resolved
    LEVER_COVERAGE = "lever_coverage"  # (lever,): events tagged with it
    PRINCIPLE_COVERAGE = "principle_coverage"  # (principle,)
    MENTORING_PAIRINGS = "mentoring_pairings"  # (mentee role,)
    POLICIES = "policies"  # (stage,): policies whose furthest stage it is
    COMMUNITY_PARTNERSHIPS = "community_partnerships"  # ()
    AFFINITY_MEETINGS = "affinity_meetings"  # ()
    RECRUITMENT_COUNT = "recruitment_count"  # (cycle, stage)
    RECRUITMENT_URIM_SHARE = "recruitment_urim_share"  # (cycle, stage): URiM / count at that stage


def quarter_of(microseconds: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=microseconds)
    return f"{moment.year}-Q{(moment.month - 1) // 3 + 1}"


def twelve_months_before(moment: datetime) -> datetime:
    try:
        return moment.replace(year=moment.year - 1)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - 1, day=28)


def _count(site_id: str, metric: ReachMetric, qualifier: tuple[str, ...], count: int) -> ReachCell:
    return ReachCell(site_id, metric.value, qualifier, float(count), count, describes_people=False)


def _share(
    site_id: str, metric: ReachMetric, qualifier: tuple[str, ...], part: int, whole: int
) -> ReachCell:
    return ReachCell(site_id, metric.value, qualifier, part / whole, whole, describes_people=True)


def _training_cells(state: InterventionState, site: Site, as_of: datetime) -> Iterator[ReachCell]:
    sessions = state.trainings.values()
    residents = site.eligible_headcount.get(Role.RESIDENT, 0)
    if residents > 0:
        trained = sum(
            s.completed
            for s in sessions
            if s.topic == TrainingTopic.HEALTH_EQUITY and s.audience_role == Role.RESIDENT
        )
        yield _share(
            site.site_id,
            ReachMetric.HEALTH_EQUITY_TRAINED_SHARE,
            (Role.RESIDENT.value,),
            trained,
            residents,
        )
    for topic in (*TrainingTopic, None):
        chosen = [s for s in sessions if topic is None or s.topic == topic]
        invited = sum(s.invited for s in chosen)
        if invited > 0:
            qualifier = (topic.value if topic else "all",)
            completed = sum(s.completed for s in chosen)
            yield _share(
                site.site_id, ReachMetric.TRAINING_COMPLETION_RATE, qualifier, completed, invited
            )
    by_quarter: dict[str, int] = {}
    for session in sessions:
        quarter = quarter_of(session.stamp[0])
        by_quarter[quarter] = by_quarter.get(quarter, 0) + 1
    for quarter, count in sorted(by_quarter.items()):
        yield _count(site.site_id, ReachMetric.TRAINING_SESSIONS_PER_QUARTER, (quarter,), count)
    start, end = epoch_microseconds(twelve_months_before(as_of)), epoch_microseconds(as_of)
    recent = sum(1 for s in sessions if start < s.stamp[0] <= end)
    yield _count(site.site_id, ReachMetric.TRAINING_SESSIONS_TWELVE_MONTHS, (), recent)


def _incident_cells(state: InterventionState, site_id: str) -> Iterator[ReachCell]:
    reported = [
        (record.reported[0], record)
        for record in state.incidents.values()
        if record.reported is not None
    ]
    for metric, step in (
        (ReachMetric.INCIDENT_HOURS_TO_ACKNOWLEDGE, "acknowledged_at"),
        (ReachMetric.INCIDENT_HOURS_TO_RESOLVE, "resolved_at"),
    ):
        hours = [
            max(0, getattr(record, step) - reported_at) / _MICROSECONDS_PER_HOUR
            for reported_at, record in reported
            if getattr(record, step) is not None
        ]
        if hours:
            # Durations are about people's cases: withheld below k incidents, like any small cell.
            for name, value in zip(("median", "p90"), median_and_p90(hours), strict=True):
                yield ReachCell(
                    site_id, metric.value, (name,), value, len(hours), describes_people=True
                )
    backlog = sum(1 for _, record in reported if record.resolved_at is None)
    yield _count(site_id, ReachMetric.INCIDENT_OPEN_BACKLOG, (), backlog)


def _programme_cells(state: InterventionState, site_id: str) -> Iterator[ReachCell]:
    for lever in Lever:
        yield _count(
            site_id, ReachMetric.LEVER_COVERAGE, (lever.value,), state.lever_events.get(lever, 0)
        )
    for principle in Principle:
        count = state.principle_events.get(principle, 0)
        yield _count(site_id, ReachMetric.PRINCIPLE_COVERAGE, (principle.value,), count)
    for role in Role:
        count = sum(1 for pairing in state.mentoring.values() if pairing.mentee_role == role)
        if count:
            yield _count(site_id, ReachMetric.MENTORING_PAIRINGS, (role.value,), count)
    for stage in POLICY_STAGE_ORDER:
        count = sum(1 for furthest in state.policies.values() if furthest == stage)
        yield _count(site_id, ReachMetric.POLICIES, (stage.value,), count)
    yield _count(site_id, ReachMetric.COMMUNITY_PARTNERSHIPS, (), len(state.partnerships))
    meetings = sum(tally.meetings for tally in state.affinity.values())
    yield _count(site_id, ReachMetric.AFFINITY_MEETINGS, (), meetings)
    for cycle, record in sorted(state.recruitment.items()):
        for funnel_stage in _FUNNEL_STAGES:
            count = getattr(record.snapshot, funnel_stage)
            urim = getattr(record.snapshot, f"{funnel_stage}_urim")
            # A count of people: shown only from k on (`suppression`), like a survey cell.
            yield ReachCell(
                site_id,
                ReachMetric.RECRUITMENT_COUNT.value,
                (cycle, funnel_stage),
                float(count),
                count,
                describes_people=True,
            )
            if count > 0:
                yield _share(
                    site_id, ReachMetric.RECRUITMENT_URIM_SHARE, (cycle, funnel_stage), urim, count
                )


def reach_cells(state: InterventionState, site: Site, *, as_of: datetime) -> list[ReachCell]:
    return [
        *_training_cells(state, site, as_of),
        *_incident_cells(state, site.site_id),
        *_programme_cells(state, site.site_id),
    ]
