"""The bias-incident lifecycle: reported -> acknowledged -> resolved, in time order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.domain.model import (
    BiasIncidentAcknowledged,
    BiasIncidentReported,
    BiasIncidentResolved,
    InterventionEvent,
)
from shared.domain.validation.checks import format_time
from shared.domain.validation.errors import (
    INTERVENTION,
    FieldError,
)
from shared.domain.validation.interventions import detail_field_name


@dataclass(frozen=True)
class IncidentTimes:
    """What ingest already knows about one incident: when each lifecycle step happened."""

    reported_at: datetime | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None

    def after(self, event: InterventionEvent) -> IncidentTimes:
        """The incident's times once `event` (assumed valid) is accepted."""
        match event.detail:
            case BiasIncidentReported():
                return IncidentTimes(event.occurred_at, self.acknowledged_at, self.resolved_at)
            case BiasIncidentAcknowledged():
                return IncidentTimes(self.reported_at, event.occurred_at, self.resolved_at)
            case BiasIncidentResolved():
                return IncidentTimes(self.reported_at, self.acknowledged_at, event.occurred_at)
        return self


def validate_incident_transition(
    previous_times: IncidentTimes, event: InterventionEvent
) -> list[FieldError]:
    """Check that an incident event follows reported -> acknowledged -> resolved, in time order.

    `previous_times` is what is known about the same incident (same site and incident id)
    before this event; pass `IncidentTimes()` for an incident never seen. Events that are
    not about an incident have no lifecycle and pass.
    """
    detail = event.detail
    name = detail_field_name(detail)
    if not isinstance(
        detail, (BiasIncidentReported, BiasIncidentAcknowledged, BiasIncidentResolved)
    ):
        return []
    incident_field = f"{INTERVENTION}.{name}.incident_id"
    time_field = f"{INTERVENTION}.occurred_at"
    incident = repr(detail.incident_id)
    occurred_at = event.occurred_at
    previous_step = {"acknowledged": "reported", "resolved": "acknowledged"}

    def not_before(step: str, earlier: datetime) -> list[FieldError]:
        try:
            too_early = occurred_at < earlier
        except TypeError:  # naive against aware; validate_intervention reports the naive one
            return []
        if too_early:
            return [
                FieldError(
                    time_field,
                    f"incident {incident} cannot be {step} at {format_time(occurred_at)}, "
                    f"before it was {previous_step[step]} at {format_time(earlier)}",
                )
            ]
        return []

    match detail:
        case BiasIncidentReported():
            if previous_times.reported_at is not None:
                return [
                    FieldError(
                        incident_field,
                        f"incident {incident} was already reported at {format_time(previous_times.reported_at)}",
                    )
                ]
            return []
        case BiasIncidentAcknowledged():
            if previous_times.reported_at is None:
                return [
                    FieldError(
                        incident_field,
                        f"incident {incident} cannot be acknowledged: it was never reported",
                    )
                ]
            if previous_times.acknowledged_at is not None:
                return [
                    FieldError(
                        incident_field,
                        f"incident {incident} was already acknowledged at "
                        f"{format_time(previous_times.acknowledged_at)}",
                    )
                ]
            return not_before("acknowledged", previous_times.reported_at)
        case BiasIncidentResolved():
            if previous_times.acknowledged_at is None:
                return [
                    FieldError(
                        incident_field,
                        f"incident {incident} cannot be resolved: it was never acknowledged",
                    )
                ]
            if previous_times.resolved_at is not None:
                return [
                    FieldError(
                        incident_field,
                        f"incident {incident} was already resolved at {format_time(previous_times.resolved_at)}",
                    )
                ]
            return not_before("resolved", previous_times.acknowledged_at)
    return []
