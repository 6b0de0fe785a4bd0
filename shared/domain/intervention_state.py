"""Accumulated intervention state of one site, built so that event order does not matter.

Three kinds of merge, each commutative:
- things with an identity (training session, mentoring pairing, partnership, recruitment cycle)
  are registers keyed by that identity: the record with the latest stamp wins, where a stamp
  is (occurred_at, event_id), so a correction replaces the earlier report whatever the arrival order;
- an incident keeps the earliest time of each lifecycle step, so "resolved" may arrive before
  "reported"; a policy keeps the furthest stage it reached;
- things without identity (affinity-group meetings, lever and principle tags) are counters.
Times are integer microseconds since the Unix epoch (UTC; naive datetimes are read as UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from shared.domain.model import (
    AffinityGroupMeeting,
    BiasIncidentAcknowledged,
    BiasIncidentReported,
    BiasIncidentResolved,
    CommunityPartnership,
    IncidentCategory,
    InterventionEvent,
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

Stamp = tuple[int, str]  # (occurred_at in microseconds, event_id): the later stamp wins
POLICY_STAGE_ORDER: tuple[PolicyStage, ...] = (
    PolicyStage.PROPOSED,
    PolicyStage.ADOPTED,
    PolicyStage.IMPLEMENTED,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
IncidentDetail = BiasIncidentReported | BiasIncidentAcknowledged | BiasIncidentResolved


class _Stamped(Protocol):
    @property
    def stamp(self) -> Stamp: ...


_K = TypeVar("_K")
_V = TypeVar("_V")
_Record = TypeVar("_Record", bound=_Stamped)


def epoch_microseconds(moment: datetime) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    elapsed = aware - _EPOCH
    return (elapsed.days * 86_400 + elapsed.seconds) * 1_000_000 + elapsed.microseconds


@dataclass(frozen=True)
class TrainingRecord:
    stamp: Stamp
    topic: TrainingTopic
    audience_role: Role
    invited: int
    attended: int
    completed: int


@dataclass(frozen=True)
class MentoringRecord:
    stamp: Stamp
    mentee_role: Role
    mentor_role: Role


@dataclass(frozen=True)
class PartnershipRecord:
    stamp: Stamp
    partner_kind: str


@dataclass(frozen=True)
class FunnelRecord:
    stamp: Stamp
    snapshot: RecruitmentFunnelSnapshot


@dataclass(frozen=True)
class IncidentRecord:
    reported: Stamp | None = None  # the earliest report, which also decides the category
    category: IncidentCategory | None = None
    acknowledged_at: int | None = None
    resolved_at: int | None = None


@dataclass(frozen=True)
class AffinityTally:
    meetings: int = 0
    attendees: int = 0


@dataclass(frozen=True)
class InterventionState:
    trainings: Mapping[str, TrainingRecord] = field(default_factory=dict)
    mentoring: Mapping[str, MentoringRecord] = field(default_factory=dict)
    policies: Mapping[str, PolicyStage] = field(default_factory=dict)  # furthest stage reached
    incidents: Mapping[str, IncidentRecord] = field(default_factory=dict)
    recruitment: Mapping[str, FunnelRecord] = field(default_factory=dict)  # by cycle
    partnerships: Mapping[str, PartnershipRecord] = field(default_factory=dict)
    affinity: Mapping[str, AffinityTally] = field(default_factory=dict)
    lever_events: Mapping[Lever, int] = field(default_factory=dict)
    principle_events: Mapping[Principle, int] = field(default_factory=dict)


def _with(mapping: Mapping[_K, _V], key: _K, value: _V) -> dict[_K, _V]:
    updated = dict(mapping)
    updated[key] = value
    return updated


def _latest(mapping: Mapping[_K, _Record], key: _K, record: _Record) -> dict[_K, _Record]:
    current = mapping.get(key)
    return (
        dict(mapping)
        if current is not None and current.stamp >= record.stamp
        else _with(mapping, key, record)
    )


def _earliest(current: int | None, candidate: int) -> int:
    return candidate if current is None else min(current, candidate)


def _add_incident(
    incidents: Mapping[str, IncidentRecord], detail: IncidentDetail, stamp: Stamp
) -> dict[str, IncidentRecord]:
    record = incidents.get(detail.incident_id, IncidentRecord())
    if isinstance(detail, BiasIncidentReported):
        if record.reported is None or stamp < record.reported:
            record = replace(record, reported=stamp, category=IncidentCategory(detail.category))
    elif isinstance(detail, BiasIncidentAcknowledged):
        record = replace(record, acknowledged_at=_earliest(record.acknowledged_at, stamp[0]))
    else:
        record = replace(record, resolved_at=_earliest(record.resolved_at, stamp[0]))
    return _with(incidents, detail.incident_id, record)


def _counted(counts: Mapping[_K, int], tags: frozenset[_K]) -> dict[_K, int]:
    return {**counts, **{tag: counts.get(tag, 0) + 1 for tag in tags}}


def _furthest_stage(current: PolicyStage | None, stage: PolicyStage) -> PolicyStage:
    if current is None:
        return stage
    return max(current, stage, key=POLICY_STAGE_ORDER.index)


def add_intervention(state: InterventionState, event: InterventionEvent) -> InterventionState:
    stamp: Stamp = (epoch_microseconds(event.occurred_at), event.event_id)
    detail = event.detail
    changes: dict[str, Any] = {
        "lever_events": _counted(state.lever_events, event.levers),
        "principle_events": _counted(state.principle_events, event.principles),
    }
    if isinstance(detail, TrainingSession):
        session = TrainingRecord(
            stamp,
            TrainingTopic(detail.topic),
            Role(detail.audience_role),
            detail.invited,
            detail.attended,
            detail.completed,
        )
        changes["trainings"] = _latest(state.trainings, detail.session_id, session)
    elif isinstance(detail, MentoringPairing):
        pairing = MentoringRecord(stamp, Role(detail.mentee_role), Role(detail.mentor_role))
        changes["mentoring"] = _latest(state.mentoring, detail.pairing_id, pairing)
    elif isinstance(detail, PolicyChange):
        stage = _furthest_stage(state.policies.get(detail.policy_id), PolicyStage(detail.stage))
        changes["policies"] = _with(state.policies, detail.policy_id, stage)
    elif isinstance(detail, (BiasIncidentReported, BiasIncidentAcknowledged, BiasIncidentResolved)):
        changes["incidents"] = _add_incident(state.incidents, detail, stamp)
    elif isinstance(detail, RecruitmentFunnelSnapshot):
        changes["recruitment"] = _latest(
            state.recruitment, detail.cycle, FunnelRecord(stamp, detail)
        )
    elif isinstance(detail, CommunityPartnership):
        partnership = PartnershipRecord(stamp, detail.partner_kind)
        changes["partnerships"] = _latest(state.partnerships, detail.partnership_id, partnership)
    elif isinstance(detail, AffinityGroupMeeting):
        tally = state.affinity.get(detail.group_id, AffinityTally())
        changes["affinity"] = _with(
            state.affinity,
            detail.group_id,
            AffinityTally(tally.meetings + 1, tally.attendees + detail.attendees),
        )
    else:
        raise ValueError(f"unknown intervention kind {type(detail).__name__}")
    return replace(state, **changes)
