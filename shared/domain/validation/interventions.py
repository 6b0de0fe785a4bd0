"""Intervention events: the envelope and each kind of detail, counts consistent."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from itertools import pairwise

from shared.domain import model
from shared.domain.model import (
    AffinityGroupMeeting,
    BiasIncidentAcknowledged,
    BiasIncidentReported,
    BiasIncidentResolved,
    CommunityPartnership,
    InterventionEvent,
    MentoringPairing,
    PolicyChange,
    RecruitmentFunnelSnapshot,
    TrainingSession,
)
from shared.domain.validation.checks import (
    MAX_SHORT_ID_LENGTH,
    check_count,
    check_enum,
    check_id,
    check_label,
    check_not_more,
    check_time,
    require_aware_now,
)
from shared.domain.validation.errors import (
    INTERVENTION,
    FieldError,
)


def validate_intervention(event: InterventionEvent, *, now: datetime) -> list[FieldError]:
    """Check one intervention event on its own (see `validate_incident_transition` for ordering)."""
    require_aware_now(now)
    prefix = INTERVENTION
    errors: list[FieldError] = []
    errors += check_id(f"{prefix}.event_id", event.event_id)
    errors += check_id(f"{prefix}.site_id", event.site_id, max_length=MAX_SHORT_ID_LENGTH)
    errors += check_id(
        f"{prefix}.source_system", event.source_system, max_length=MAX_SHORT_ID_LENGTH
    )
    errors += check_time(f"{prefix}.occurred_at", event.occurred_at, now=now)
    for index, lever in enumerate(event.levers):
        errors += check_enum(f"{prefix}.levers[{index}]", lever, model.Lever)
    for index, principle in enumerate(event.principles):
        errors += check_enum(f"{prefix}.principles[{index}]", principle, model.Principle)
    errors += _validate_detail(event.detail)
    return errors


def detail_field_name(detail: object) -> str | None:
    """The name of the `detail` oneof field that carries this kind of event, if any."""
    return _DETAIL_FIELD_NAMES.get(type(detail))


_DETAIL_FIELD_NAMES: Mapping[type, str] = {
    TrainingSession: "training_session",
    MentoringPairing: "mentoring_pairing",
    PolicyChange: "policy_change",
    BiasIncidentReported: "bias_incident_reported",
    BiasIncidentAcknowledged: "bias_incident_acknowledged",
    BiasIncidentResolved: "bias_incident_resolved",
    RecruitmentFunnelSnapshot: "recruitment_funnel_snapshot",
    CommunityPartnership: "community_partnership",
    AffinityGroupMeeting: "affinity_group_meeting",
}


def _validate_detail(detail: object) -> list[FieldError]:
    name = detail_field_name(detail)
    if name is None:
        return [
            FieldError(
                f"{INTERVENTION}.detail", "is required: say which kind of intervention this is"
            )
        ]
    path = f"{INTERVENTION}.{name}"
    match detail:
        case TrainingSession():
            return (
                check_id(f"{path}.session_id", detail.session_id)
                + check_enum(f"{path}.topic", detail.topic, model.TrainingTopic)
                + check_enum(f"{path}.audience_role", detail.audience_role, model.Role)
                + _check_ordered_counts(path, ("invited", "attended", "completed"), detail)
            )
        case MentoringPairing():
            return (
                check_id(f"{path}.pairing_id", detail.pairing_id)
                + check_enum(f"{path}.mentee_role", detail.mentee_role, model.Role)
                + check_enum(f"{path}.mentor_role", detail.mentor_role, model.Role)
            )
        case PolicyChange():
            return (
                check_id(f"{path}.policy_id", detail.policy_id)
                + check_enum(f"{path}.stage", detail.stage, model.PolicyStage)
                + check_label(f"{path}.title", detail.title)
            )
        case BiasIncidentReported():
            return check_id(f"{path}.incident_id", detail.incident_id) + check_enum(
                f"{path}.category", detail.category, model.IncidentCategory
            )
        case BiasIncidentAcknowledged() | BiasIncidentResolved():
            return check_id(f"{path}.incident_id", detail.incident_id)
        case RecruitmentFunnelSnapshot():
            return check_id(
                f"{path}.cycle", detail.cycle, max_length=MAX_SHORT_ID_LENGTH
            ) + _check_funnel(path, detail)
        case CommunityPartnership():
            return check_id(f"{path}.partnership_id", detail.partnership_id) + check_label(
                f"{path}.partner_kind", detail.partner_kind, max_length=MAX_SHORT_ID_LENGTH
            )
        case AffinityGroupMeeting():
            return check_id(f"{path}.group_id", detail.group_id) + check_count(
                f"{path}.attendees", detail.attendees
            )
    return []


def _check_ordered_counts(path: str, stages: tuple[str, ...], detail: object) -> list[FieldError]:
    """Each stage is a non-negative count no larger than the stage before it."""
    values = {stage: getattr(detail, stage) for stage in stages}
    errors = [error for stage in stages for error in check_count(f"{path}.{stage}", values[stage])]
    if errors:
        return errors  # comparing a missing or negative count would only add noise
    for earlier, later in pairwise(stages):
        errors += check_not_more(
            f"{path}.{later}", values[later], f"{path}.{earlier}", values[earlier]
        )
    return errors


_FUNNEL_STAGES = ("applicants", "interviewed", "ranked", "matched")
_FUNNEL_URIM_STAGES = tuple(f"{stage}_urim" for stage in _FUNNEL_STAGES)


def _check_funnel(path: str, funnel: RecruitmentFunnelSnapshot) -> list[FieldError]:
    errors = _check_ordered_counts(path, _FUNNEL_STAGES, funnel)
    errors += _check_ordered_counts(path, _FUNNEL_URIM_STAGES, funnel)
    all_counts_valid = not any(
        check_count("", getattr(funnel, stage)) for stage in _FUNNEL_STAGES + _FUNNEL_URIM_STAGES
    )
    if all_counts_valid:
        for stage, urim_stage in zip(_FUNNEL_STAGES, _FUNNEL_URIM_STAGES, strict=True):
            errors += check_not_more(
                f"{path}.{urim_stage}",
                getattr(funnel, urim_stage),
                f"{path}.{stage}",
                getattr(funnel, stage),
            )
    return errors
