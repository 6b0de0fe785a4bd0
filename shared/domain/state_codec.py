"""JSON-safe dictionaries for site state, so the processor can keep it in a Faust table.

Exact round trip: every tally is an integer, times are integer microseconds. Schema 1 (exact
rationals as "numerator/denominator" strings) is still read. Collections are written in sorted order, so equal
states serialise to identical JSON however their events arrived.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from shared.domain.intervention_state import (
    AffinityTally,
    FunnelRecord,
    IncidentRecord,
    InterventionState,
    MentoringRecord,
    PartnershipRecord,
    TrainingRecord,
)
from shared.domain.model import (
    Composite,
    IncidentCategory,
    Lever,
    PolicyStage,
    Principle,
    RecruitmentFunnelSnapshot,
    Role,
    TrainingTopic,
    Wave,
)
from shared.domain.survey_state import (
    CompositeTally,
    ItemTally,
    ResponseTally,
    ScoreTotals,
    SurveyState,
)


def survey_to_dict(state: SurveyState) -> dict[str, Any]:
    return {
        "composites": [
            {
                "wave": wave.value,
                "composite": composite.value,
                "dimension": dimension,
                "group": group,
                "respondents": tally.respondents,
                "totals": [[m, t.total, t.square_total] for m, t in sorted(tally.totals.items())],
                "items": {
                    code: [item.answered, item.positive]
                    for code, item in sorted(tally.items.items())
                },
            }
            for (wave, composite, dimension, group), tally in sorted(state.composites.items())
        ],
        "responses": [
            {"wave": wave.value, "dimension": dimension, "group": group, **vars(tally)}
            for (wave, dimension, group), tally in sorted(state.responses.items())
        ],
    }


def _totals(row: Mapping[str, Any]) -> dict[int, ScoreTotals]:
    if "totals" in row:
        return {m: ScoreTotals(total, squares) for m, total, squares in row["totals"]}
    # Schema 1 kept the exact sums as fractions N/D and N2/D2. Kept under those denominators they
    # stay exact, and later respondents add to them as usual: N/D is N over m = D, and N2/D2 is
    # N2 * D2 over m = D2, since squares are kept over m * m.
    score, squares = Fraction(row["score_sum"]), Fraction(row["score_square_sum"])
    totals: dict[int, ScoreTotals] = {}
    for m, total, square_total in (
        (score.denominator, score.numerator, 0),
        (squares.denominator, 0, squares.numerator * squares.denominator),
    ):
        before = totals.get(m, ScoreTotals())
        totals[m] = ScoreTotals(before.total + total, before.square_total + square_total)
    return totals


def survey_from_dict(data: Mapping[str, Any]) -> SurveyState:
    """A survey state from `survey_to_dict`'s output, or from the schema 1 format (fractions)."""
    composites = {
        (
            Wave(row["wave"]),
            Composite(row["composite"]),
            row["dimension"],
            row["group"],
        ): CompositeTally(
            respondents=row["respondents"],
            totals=_totals(row),
            items={
                code: ItemTally(answered, positive)
                for code, (answered, positive) in row["items"].items()
            },
        )
        for row in data["composites"]
    }
    responses = {
        (Wave(row["wave"]), row["dimension"], row["group"]): ResponseTally(
            **{name: row[name] for name in ResponseTally.__dataclass_fields__}
        )
        for row in data["responses"]
    }
    return SurveyState(composites, responses)


def _stamp(value: Any) -> tuple[int, str]:
    occurred_at, event_id = value
    return int(occurred_at), str(event_id)


def interventions_to_dict(state: InterventionState) -> dict[str, Any]:
    return {
        "trainings": {
            session_id: {
                "stamp": list(record.stamp),
                "topic": record.topic.value,
                "audience_role": record.audience_role.value,
                "invited": record.invited,
                "attended": record.attended,
                "completed": record.completed,
            }
            for session_id, record in sorted(state.trainings.items())
        },
        "mentoring": {
            pairing_id: {
                "stamp": list(record.stamp),
                "mentee_role": record.mentee_role.value,
                "mentor_role": record.mentor_role.value,
            }
            for pairing_id, record in sorted(state.mentoring.items())
        },
        "policies": {policy_id: stage.value for policy_id, stage in sorted(state.policies.items())},
        "incidents": {
            incident_id: {
                "reported": None if record.reported is None else list(record.reported),
                "category": None if record.category is None else record.category.value,
                "acknowledged_at": record.acknowledged_at,
                "resolved_at": record.resolved_at,
            }
            for incident_id, record in sorted(state.incidents.items())
        },
        "recruitment": {
            cycle: {"stamp": list(record.stamp), "snapshot": vars(record.snapshot)}
            for cycle, record in sorted(state.recruitment.items())
        },
        "partnerships": {
            partnership_id: {"stamp": list(record.stamp), "partner_kind": record.partner_kind}
            for partnership_id, record in sorted(state.partnerships.items())
        },
        "affinity": {
            group_id: [tally.meetings, tally.attendees]
            for group_id, tally in sorted(state.affinity.items())
        },
        "lever_events": {lever.value: count for lever, count in sorted(state.lever_events.items())},
        "principle_events": {
            principle.value: count for principle, count in sorted(state.principle_events.items())
        },
    }


def interventions_from_dict(data: Mapping[str, Any]) -> InterventionState:
    return InterventionState(
        trainings={
            session_id: TrainingRecord(
                _stamp(row["stamp"]),
                TrainingTopic(row["topic"]),
                Role(row["audience_role"]),
                row["invited"],
                row["attended"],
                row["completed"],
            )
            for session_id, row in data["trainings"].items()
        },
        mentoring={
            pairing_id: MentoringRecord(
                _stamp(row["stamp"]), Role(row["mentee_role"]), Role(row["mentor_role"])
            )
            for pairing_id, row in data["mentoring"].items()
        },
        policies={policy_id: PolicyStage(stage) for policy_id, stage in data["policies"].items()},
        incidents={
            incident_id: IncidentRecord(
                reported=None if row["reported"] is None else _stamp(row["reported"]),
                category=None if row["category"] is None else IncidentCategory(row["category"]),
                acknowledged_at=row["acknowledged_at"],
                resolved_at=row["resolved_at"],
            )
            for incident_id, row in data["incidents"].items()
        },
        recruitment={
            cycle: FunnelRecord(_stamp(row["stamp"]), RecruitmentFunnelSnapshot(**row["snapshot"]))
            for cycle, row in data["recruitment"].items()
        },
        partnerships={
            partnership_id: PartnershipRecord(_stamp(row["stamp"]), row["partner_kind"])
            for partnership_id, row in data["partnerships"].items()
        },
        affinity={
            group_id: AffinityTally(meetings, attendees)
            for group_id, (meetings, attendees) in data["affinity"].items()
        },
        lever_events={Lever(lever): count for lever, count in data["lever_events"].items()},
        principle_events={
            Principle(principle): count for principle, count in data["principle_events"].items()
        },
    )
