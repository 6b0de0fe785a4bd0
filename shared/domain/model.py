"""The domain's nouns: sites, instruments, survey responses and intervention events.

Plain frozen dataclasses and string enums, standard library only. Everything that
validates, aggregates or suppresses works on these types; services translate
protobuf to them at their edges and back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import TypeAlias


class Role(StrEnum):
    RESIDENT = "resident"
    FELLOW = "fellow"
    FACULTY = "faculty"
    NURSE = "nurse"
    STAFF = "staff"
    STUDENT = "student"


class Department(StrEnum):
    """Coarse on purpose: a fine department would identify respondents."""

    MEDICINE = "medicine"
    SURGERY = "surgery"
    PEDIATRICS = "pediatrics"
    EMERGENCY = "emergency"
    PSYCHIATRY = "psychiatry"
    PRIMARY_CARE = "primary_care"
    OTHER = "other"


class Wave(StrEnum):
    BASELINE = "baseline"
    MIDPOINT = "midpoint"
    FOLLOW_UP = "follow_up"


WAVE_ORDER: tuple[Wave, ...] = (Wave.BASELINE, Wave.MIDPOINT, Wave.FOLLOW_UP)


class Composite(StrEnum):
    BELONGING = "belonging"
    INCLUSION = "inclusion"
    PSYCHOLOGICAL_SAFETY = "psychological_safety"
    EQUITABLE_OPPORTUNITY = "equitable_opportunity"
    TRUST_IN_REPORTING = "trust_in_reporting"
    LEADERSHIP_COMMITMENT = "leadership_commitment"


class GroupDimension(StrEnum):
    """Optional self-identified group dimensions of a survey respondent."""

    URIM = "urim"  # under-represented in medicine
    GENDER_IDENTITY = "gender_identity"
    FIRST_GENERATION = "first_generation"
    DISABILITY = "disability"
    LGBTQ = "lgbtq"
    RURAL_BACKGROUND = "rural_background"


PREFER_NOT_TO_SAY = "prefer_not_to_say"

# The values each dimension accepts; "prefer not to say" is always allowed and is never
# a group of its own in a disparity (it is neither the group nor the reference).
GROUP_VALUES: Mapping[GroupDimension, frozenset[str]] = {
    GroupDimension.URIM: frozenset({"yes", "no", PREFER_NOT_TO_SAY}),
    GroupDimension.GENDER_IDENTITY: frozenset(
        {"woman", "man", "nonbinary", "self_described", PREFER_NOT_TO_SAY}
    ),
    GroupDimension.FIRST_GENERATION: frozenset({"yes", "no", PREFER_NOT_TO_SAY}),
    GroupDimension.DISABILITY: frozenset({"yes", "no", PREFER_NOT_TO_SAY}),
    GroupDimension.LGBTQ: frozenset({"yes", "no", PREFER_NOT_TO_SAY}),
    GroupDimension.RURAL_BACKGROUND: frozenset({"yes", "no", PREFER_NOT_TO_SAY}),
}

# The reference group a disparity gap is measured against.
REFERENCE_GROUP: Mapping[GroupDimension, str] = {
    GroupDimension.URIM: "no",
    GroupDimension.GENDER_IDENTITY: "man",
    GroupDimension.FIRST_GENERATION: "no",
    GroupDimension.DISABILITY: "no",
    GroupDimension.LGBTQ: "no",
    GroupDimension.RURAL_BACKGROUND: "no",
}


class Lever(StrEnum):
    """The three levers of the national initiative."""

    AWARENESS = "awareness"
    CONNECTION = "connection"
    SPEAKING_UP = "speaking_up"


class Principle(StrEnum):
    """The four Massachusetts principles."""

    ACKNOWLEDGE_AND_LEARN = "acknowledge_and_learn"
    VISIBLE_LEADERSHIP_COMMITMENT = "visible_leadership_commitment"
    CONFRONT_DEVALUING_PRACTICES = "confront_devaluing_practices"
    EMPATHY_AND_INTERSECTIONALITY = "empathy_and_intersectionality"


class Urbanicity(StrEnum):
    URBAN = "urban"
    RURAL = "rural"


class TeachingType(StrEnum):
    ACADEMIC_MEDICAL_CENTER = "academic_medical_center"
    COMMUNITY_TEACHING = "community_teaching"
    SAFETY_NET = "safety_net"


@dataclass(frozen=True)
class Site:
    site_id: str
    name: str
    region: str
    urbanicity: Urbanicity
    teaching_type: TeachingType
    collaborative: str
    # Eligible headcount by role: the denominator of response and reach rates.
    eligible_headcount: Mapping[Role, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Item:
    code: str
    composite: Composite
    reverse_worded: bool = False
    text: str = ""


@dataclass(frozen=True)
class WaveWindow:
    """When a wave of an instrument accepts responses; late responses are rejected."""

    wave: Wave
    opens_at: datetime
    closes_at: datetime


@dataclass(frozen=True)
class Instrument:
    instrument_id: str
    version: int
    items: tuple[Item, ...]
    waves: tuple[WaveWindow, ...] = ()

    def item(self, code: str) -> Item | None:
        return self._items_by_code.get(code)

    @cached_property
    def _items_by_code(self) -> Mapping[str, Item]:
        """Items by code, the first of each code (looked up for every answer of every response)."""
        by_code: dict[str, Item] = {}
        for item in self.items:
            by_code.setdefault(item.code, item)
        return by_code

    def window(self, wave: Wave) -> WaveWindow | None:
        return next((window for window in self.waves if window.wave == wave), None)


@dataclass(frozen=True)
class SurveyResponse:
    """One anonymous culture-survey response. There is no respondent identifier, by design."""

    event_id: str
    site_id: str
    instrument_id: str
    instrument_version: int
    wave: Wave
    # Optional questions: None means not answered (counted in the total, not in that breakdown).
    role: Role | None
    department: Department | None
    submitted_at: datetime
    source_system: str
    # Likert 1..5 keyed by item code; None means the item was not answered.
    answers: Mapping[str, int | None]
    groups: Mapping[GroupDimension, str] = field(default_factory=dict)
    experienced_discrimination: bool | None = None
    witnessed_discrimination: bool | None = None
    # The registered survey cycle (`shared.domain.cycles`) the response belongs to; None in a
    # response that names none (every response sent before cycles were registered).
    cycle_id: str | None = None


# --- Intervention events -------------------------------------------------------------


class TrainingTopic(StrEnum):
    HEALTH_EQUITY = "health_equity"
    IMPLICIT_BIAS = "implicit_bias"
    STRUCTURAL_RACISM = "structural_racism"
    UPSTANDER_SKILLS = "upstander_skills"


class PolicyStage(StrEnum):
    PROPOSED = "proposed"
    ADOPTED = "adopted"
    IMPLEMENTED = "implemented"


class IncidentCategory(StrEnum):
    RACISM = "racism"
    SEXISM = "sexism"
    HOMOPHOBIA_TRANSPHOBIA = "homophobia_transphobia"
    ABLEISM = "ableism"
    RELIGIOUS = "religious"
    OTHER = "other"


@dataclass(frozen=True)
class TrainingSession:
    session_id: str
    topic: TrainingTopic
    audience_role: Role
    invited: int
    attended: int
    completed: int


@dataclass(frozen=True)
class MentoringPairing:
    pairing_id: str
    mentee_role: Role
    mentor_role: Role


@dataclass(frozen=True)
class PolicyChange:
    policy_id: str
    stage: PolicyStage
    title: str


@dataclass(frozen=True)
class BiasIncidentReported:
    """Times and category only: a narrative is never accepted."""

    incident_id: str
    category: IncidentCategory


@dataclass(frozen=True)
class BiasIncidentAcknowledged:
    incident_id: str


@dataclass(frozen=True)
class BiasIncidentResolved:
    incident_id: str


@dataclass(frozen=True)
class RecruitmentFunnelSnapshot:
    """A recruitment cycle's funnel; each stage also counts people under-represented in medicine."""

    cycle: str
    applicants: int
    interviewed: int
    ranked: int
    matched: int
    applicants_urim: int
    interviewed_urim: int
    ranked_urim: int
    matched_urim: int


@dataclass(frozen=True)
class CommunityPartnership:
    partnership_id: str
    partner_kind: str


@dataclass(frozen=True)
class AffinityGroupMeeting:
    group_id: str
    attendees: int


InterventionDetail: TypeAlias = (
    TrainingSession
    | MentoringPairing
    | PolicyChange
    | BiasIncidentReported
    | BiasIncidentAcknowledged
    | BiasIncidentResolved
    | RecruitmentFunnelSnapshot
    | CommunityPartnership
    | AffinityGroupMeeting
)


@dataclass(frozen=True)
class InterventionEvent:
    """Envelope shared by every intervention kind; `detail` says which kind it is."""

    event_id: str
    site_id: str
    occurred_at: datetime
    source_system: str
    detail: InterventionDetail
    levers: frozenset[Lever] = frozenset()
    principles: frozenset[Principle] = frozenset()
