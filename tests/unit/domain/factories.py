"""Builders of domain objects for the domain-core tests: a small instrument, sites, events."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from shared.domain.model import (
    PREFER_NOT_TO_SAY,
    AffinityGroupMeeting,
    BiasIncidentAcknowledged,
    BiasIncidentReported,
    BiasIncidentResolved,
    CommunityPartnership,
    Composite,
    Department,
    GroupDimension,
    IncidentCategory,
    Instrument,
    InterventionEvent,
    Item,
    Lever,
    MentoringPairing,
    PolicyChange,
    PolicyStage,
    Principle,
    RecruitmentFunnelSnapshot,
    Role,
    Site,
    SurveyResponse,
    TeachingType,
    TrainingSession,
    TrainingTopic,
    Urbanicity,
    Wave,
)

T0 = datetime(2025, 10, 1, tzinfo=UTC)
AS_OF = datetime(2026, 6, 30, tzinfo=UTC)

# Two composites of three and two items; one reverse-worded item in each.
INSTRUMENT = Instrument(
    instrument_id="test-culture",
    version=1,
    items=(
        Item("B1", Composite.BELONGING),
        Item("B2", Composite.BELONGING),
        Item("B3", Composite.BELONGING, reverse_worded=True),
        Item("S1", Composite.PSYCHOLOGICAL_SAFETY),
        Item("S2", Composite.PSYCHOLOGICAL_SAFETY, reverse_worded=True),
    ),
)
ITEM_CODES = tuple(item.code for item in INSTRUMENT.items)
_ids = itertools.count()


def site(site_id: str = "s1", **headcount: int) -> Site:
    return Site(
        site_id=site_id,
        name=f"Hospital {site_id}",
        region="midwest",
        urbanicity=Urbanicity.URBAN,
        teaching_type=TeachingType.ACADEMIC_MEDICAL_CENTER,
        collaborative="c1",
        eligible_headcount={Role(role): count for role, count in headcount.items()},
    )


def response(
    answers: dict[str, int | None],
    *,
    site_id: str = "s1",
    wave: Wave = Wave.BASELINE,
    role: Role | None = Role.RESIDENT,
    department: Department | None = Department.MEDICINE,
    groups: dict[GroupDimension, str] | None = None,
    experienced: bool | None = None,
    witnessed: bool | None = None,
) -> SurveyResponse:
    return SurveyResponse(
        event_id=f"r{next(_ids)}",
        site_id=site_id,
        instrument_id=INSTRUMENT.instrument_id,
        instrument_version=INSTRUMENT.version,
        wave=wave,
        role=role,
        department=department,
        submitted_at=T0,
        source_system="test",
        answers=answers,
        groups=groups or {},
        experienced_discrimination=experienced,
        witnessed_discrimination=witnessed,
    )


def intervention(
    detail,
    *,
    site_id: str = "s1",
    at: datetime = T0,
    event_id: str | None = None,
    levers: frozenset[Lever] = frozenset(),
    principles: frozenset[Principle] = frozenset(),
) -> InterventionEvent:
    return InterventionEvent(
        event_id=event_id or f"e{next(_ids)}",
        site_id=site_id,
        occurred_at=at,
        source_system="test",
        detail=detail,
        levers=levers,
        principles=principles,
    )


# --- hypothesis strategies -----------------------------------------------------------

_answer = st.one_of(st.none(), st.integers(1, 5))
_group_choice = {
    GroupDimension.URIM: st.sampled_from(["yes", "no", PREFER_NOT_TO_SAY, None]),
    GroupDimension.GENDER_IDENTITY: st.sampled_from(
        ["woman", "man", "nonbinary", PREFER_NOT_TO_SAY, None]
    ),
}


@st.composite
def responses(draw, site_ids=("s1",)) -> SurveyResponse:
    groups = {dimension: draw(choice) for dimension, choice in _group_choice.items()}
    return response(
        {code: draw(_answer) for code in ITEM_CODES},
        site_id=draw(st.sampled_from(site_ids)),
        wave=draw(st.sampled_from([Wave.BASELINE, Wave.FOLLOW_UP])),
        # None: the optional question was not answered (the response joins that dimension's residual).
        role=draw(st.sampled_from([Role.RESIDENT, Role.FACULTY, Role.NURSE, Role.FELLOW, None])),
        department=draw(
            st.sampled_from([Department.MEDICINE, Department.SURGERY, Department.OTHER, None])
        ),
        groups={dimension: group for dimension, group in groups.items() if group is not None},
        experienced=draw(st.sampled_from([True, False, None])),
        witnessed=draw(st.sampled_from([True, False, None])),
    )


def hours_after(start: datetime, hours: float) -> datetime:
    return start + timedelta(hours=hours)


@st.composite
def interventions(draw, site_ids=("s1",)) -> InterventionEvent:
    # Few identities, so that corrections and lifecycle steps of the same thing collide.
    ident = draw(st.sampled_from(["a", "b", "c"]))
    invited = draw(st.integers(0, 40))
    attended = draw(st.integers(0, invited))
    funnel = sorted((draw(st.integers(0, 50)) for _ in range(4)), reverse=True)
    topic, role = (
        draw(st.sampled_from(list(TrainingTopic))),
        draw(st.sampled_from([Role.RESIDENT, Role.NURSE])),
    )
    detail = draw(
        st.sampled_from(
            [
                TrainingSession(
                    ident, topic, role, invited, attended, draw(st.integers(0, attended))
                ),
                MentoringPairing(ident, Role.RESIDENT, Role.FACULTY),
                PolicyChange(ident, draw(st.sampled_from(list(PolicyStage))), "title"),
                BiasIncidentReported(ident, draw(st.sampled_from(list(IncidentCategory)))),
                BiasIncidentAcknowledged(ident),
                BiasIncidentResolved(ident),
                RecruitmentFunnelSnapshot(ident, *funnel, *(n // 3 for n in funnel)),
                CommunityPartnership(ident, draw(st.sampled_from(["school", "clinic"]))),
                AffinityGroupMeeting(ident, draw(st.integers(1, 30))),
            ]
        )
    )
    return intervention(
        detail,
        site_id=draw(st.sampled_from(site_ids)),
        at=T0 + timedelta(hours=draw(st.integers(0, 24 * 400))),
        levers=frozenset(draw(st.sets(st.sampled_from(list(Lever))))),
        principles=frozenset(draw(st.sets(st.sampled_from(list(Principle))))),
    )
