"""A realistic, seeded multi-site dataset for the demo and the end-to-end tests.

Twelve-plus hospitals of different sizes answer two survey waves and report every kind of
intervention. A few sites are small on purpose, so that eligibility (>= 10 responses)
and small-cell suppression are exercised. Pure: the same seed gives the same dataset.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.model import (
    GROUP_VALUES,
    PREFER_NOT_TO_SAY,
    AffinityGroupMeeting,
    BiasIncidentAcknowledged,
    BiasIncidentReported,
    BiasIncidentResolved,
    CommunityPartnership,
    Department,
    GroupDimension,
    IncidentCategory,
    Instrument,
    InterventionDetail,
    InterventionEvent,
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

# (site id, name, region, urbanicity, teaching type, respondents per wave)
_SiteSpec = tuple[str, str, str, str, str, int]
_SITE_SPECS: list[_SiteSpec] = [
    (
        "site-north",
        "Northern University Hospital",
        "northeast",
        "urban",
        "academic_medical_center",
        420,
    ),
    (
        "site-south",
        "Southern Regional Medical Center",
        "south",
        "urban",
        "academic_medical_center",
        380,
    ),
    ("site-east", "Eastside Community Hospital", "northeast", "urban", "community_teaching", 240),
    ("site-west", "West Valley Health", "west", "urban", "academic_medical_center", 350),
    (
        "site-lakes",
        "Great Lakes Medical Center",
        "midwest",
        "urban",
        "academic_medical_center",
        300,
    ),
    ("site-plains", "Plains County Hospital", "midwest", "rural", "community_teaching", 90),
    ("site-coast", "Coastal Safety-Net Hospital", "west", "urban", "safety_net", 260),
    ("site-hills", "Hill Country Medical", "south", "rural", "community_teaching", 70),
    ("site-river", "Riverside Teaching Hospital", "south", "urban", "community_teaching", 180),
    ("site-metro", "Metro General", "northeast", "urban", "safety_net", 310),
    ("site-desert", "Desert Sun Medical Center", "west", "rural", "community_teaching", 60),
    ("site-pines", "Pine Ridge Community Health", "midwest", "rural", "safety_net", 45),
    # Too small to be an eligible peer in any wave: its cells are all suppressed.
    ("site-island", "Island Clinic Teaching Site", "west", "rural", "community_teaching", 8),
]

_ROLE_WEIGHTS = {
    Role.RESIDENT: 30,
    Role.FELLOW: 8,
    Role.FACULTY: 20,
    Role.NURSE: 25,
    Role.STAFF: 12,
    Role.STUDENT: 5,
}
_DEPARTMENT_WEIGHTS = {
    Department.MEDICINE: 30,
    Department.SURGERY: 18,
    Department.PEDIATRICS: 14,
    Department.EMERGENCY: 12,
    Department.PSYCHIATRY: 8,
    Department.PRIMARY_CARE: 12,
    Department.OTHER: 6,
}


@dataclass(frozen=True)
class DemoDataset:
    sites: tuple[Site, ...]
    instrument: Instrument
    responses: tuple[SurveyResponse, ...]
    interventions: tuple[InterventionEvent, ...]


def build_demo_dataset(
    instrument: Instrument,
    *,
    now: datetime,
    waves: tuple[Wave, ...] = (Wave.BASELINE, Wave.FOLLOW_UP),
    seed: int = 2026,
    scale: float = 1.0,
) -> DemoDataset:
    """Sites, survey responses inside each wave's window (never after `now`) and interventions."""
    rng = random.Random(seed)
    sites = tuple(_site(spec) for spec in _SITE_SPECS)
    responses: list[SurveyResponse] = []
    for site, spec in zip(sites, _SITE_SPECS, strict=True):
        site_climate = rng.gauss(0.0, 0.35)
        for wave_index, wave in enumerate(waves):
            window = instrument.window(wave)
            if window is None:
                raise ValueError(f"instrument {instrument.instrument_id} has no {wave} window")
            end = min(window.closes_at, now - timedelta(hours=1))
            # Later waves improve a little: the interventions are working at most sites.
            improvement = 0.15 * wave_index * (1 if rng.random() < 0.75 else -1)
            count = max(1, round(spec[5] * scale * rng.uniform(0.85, 1.1)))
            for _ in range(count):
                responses.append(
                    _response(
                        rng,
                        site,
                        instrument,
                        wave,
                        window.opens_at,
                        end,
                        site_climate + improvement,
                    )
                )
    interventions: list[InterventionEvent] = []
    for site in sites:
        interventions.extend(_interventions(rng, site, now))
    return DemoDataset(sites, instrument, tuple(responses), tuple(interventions))


# A month's survey as it really arrives: a burst after the invitation, smaller ones after the
# reminders (days 7 and 14), a trickle in between and a tail. Responses per day.
ROLLOUT_CURVE = (
    90,
    9,
    7,
    5,
    4,
    3,
    3,
    48,
    8,
    5,
    3,
    3,
    2,
    2,
    38,
    5,
    3,
    2,
    2,
    1,
    1,
    1,
    1,
    1,
    0,
    1,
    0,
    1,
    0,
    1,
)


def rollout(
    site: Site,
    instrument: Instrument,
    wave: Wave,
    *,
    opens_at: datetime,
    seed: int = 7,
    curve: tuple[int, ...] = ROLLOUT_CURVE,
) -> list[list[SurveyResponse]]:
    """One site's survey responses, day by day over `len(curve)` days from `opens_at`: the demo's
    skewed roles and departments, group dimensions and experience items."""
    rng = random.Random(seed)
    climate = rng.gauss(0.0, 0.35)
    days = []
    for day, count in enumerate(curve):
        start = opens_at + timedelta(days=day)
        end = start + timedelta(hours=23)
        days.append(
            [_response(rng, site, instrument, wave, start, end, climate) for _ in range(count)]
        )
    return days


def _site(spec: _SiteSpec) -> Site:
    site_id, name, region, urbanicity, teaching, respondents = spec
    return Site(
        site_id=site_id,
        name=name,
        region=region,
        urbanicity=Urbanicity(urbanicity),
        teaching_type=TeachingType(teaching),
        collaborative="jedi-collaborative-2025",
        eligible_headcount={
            role: max(1, round(respondents * 1.6 * weight / 100))
            for role, weight in _ROLE_WEIGHTS.items()
        },
    )


def _event_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    seconds = max(0, int((end - start).total_seconds()))
    return start + timedelta(seconds=rng.randint(0, seconds))


def _response(
    rng: random.Random,
    site: Site,
    instrument: Instrument,
    wave: Wave,
    start: datetime,
    end: datetime,
    climate: float,
) -> SurveyResponse:
    groups: dict[GroupDimension, str] = {}
    for dimension in GROUP_VALUES:
        if rng.random() < 0.1:
            continue  # left blank
        if rng.random() < 0.06:
            groups[dimension] = PREFER_NOT_TO_SAY
        elif dimension is GroupDimension.GENDER_IDENTITY:
            groups[dimension] = rng.choices(
                ["woman", "man", "nonbinary", "self_described"], [52, 43, 4, 1]
            )[0]
        else:
            groups[dimension] = "yes" if rng.random() < 0.22 else "no"
    # Respondents from under-represented groups report a less inclusive climate: the
    # disparity the benchmarks exist to show.
    disadvantage = 0.45 * (groups.get(GroupDimension.URIM) == "yes") + 0.25 * (
        groups.get(GroupDimension.LGBTQ) == "yes"
    )
    answers: dict[str, int | None] = {}
    for item in instrument.items:
        if rng.random() < 0.04:
            answers[item.code] = None
            continue
        latent = 3.6 + climate - disadvantage + rng.gauss(0.0, 0.9)
        score = min(5, max(1, round(latent)))
        answers[item.code] = 6 - score if item.reverse_worded else score
    experienced = rng.random() < 0.12 + 0.2 * disadvantage
    return SurveyResponse(
        event_id=_event_id(rng),
        site_id=site.site_id,
        instrument_id=instrument.instrument_id,
        instrument_version=instrument.version,
        wave=wave,
        role=rng.choices(list(_ROLE_WEIGHTS), list(_ROLE_WEIGHTS.values()))[0],
        department=rng.choices(list(_DEPARTMENT_WEIGHTS), list(_DEPARTMENT_WEIGHTS.values()))[0],
        submitted_at=_between(rng, start, end),
        source_system="qualtrics-export",
        answers=answers,
        groups=groups,
        experienced_discrimination=None if rng.random() < 0.05 else experienced,
        witnessed_discrimination=None if rng.random() < 0.05 else rng.random() < 0.25,
    )


def _interventions(rng: random.Random, site: Site, now: datetime) -> list[InterventionEvent]:
    start = now - timedelta(days=540)

    def event(
        detail: InterventionDetail,
        occurred_at: datetime,
        levers: list[Lever],
        principles: list[Principle],
    ) -> InterventionEvent:
        return InterventionEvent(
            event_id=_event_id(rng),
            site_id=site.site_id,
            occurred_at=occurred_at,
            source_system="site-hr-system",
            detail=detail,
            levers=frozenset(levers),
            principles=frozenset(principles),
        )

    events: list[InterventionEvent] = []
    residents = site.eligible_headcount.get(Role.RESIDENT, 0)
    for number in range(rng.randint(4, 10)):
        invited = rng.randint(10, max(11, residents))
        attended = rng.randint(invited // 2, invited)
        events.append(
            event(
                TrainingSession(
                    session_id=f"{site.site_id}-training-{number}",
                    topic=rng.choice(list(TrainingTopic)),
                    audience_role=rng.choice(
                        [Role.RESIDENT, Role.RESIDENT, Role.FACULTY, Role.NURSE]
                    ),
                    invited=invited,
                    attended=attended,
                    completed=rng.randint(attended // 2, attended),
                ),
                _between(rng, start, now - timedelta(days=1)),
                [Lever.AWARENESS],
                [Principle.ACKNOWLEDGE_AND_LEARN],
            )
        )
    for number in range(rng.randint(3, 12)):
        events.append(
            event(
                MentoringPairing(f"{site.site_id}-pair-{number}", Role.RESIDENT, Role.FACULTY),
                _between(rng, start, now - timedelta(days=1)),
                [Lever.CONNECTION],
                [Principle.EMPATHY_AND_INTERSECTIONALITY],
            )
        )
    policy_time = _between(rng, start, now - timedelta(days=200))
    for stage in list(PolicyStage)[: rng.randint(1, 3)]:
        events.append(
            event(
                PolicyChange(f"{site.site_id}-policy-holistic-review", stage, "Holistic review"),
                policy_time,
                [Lever.SPEAKING_UP],
                [Principle.CONFRONT_DEVALUING_PRACTICES],
            )
        )
        policy_time += timedelta(days=rng.randint(20, 60))
    for number in range(rng.randint(2, 8)):
        incident_id = f"{site.site_id}-incident-{number}"
        reported = _between(rng, start, now - timedelta(days=30))
        levers, principles = [Lever.SPEAKING_UP], [Principle.CONFRONT_DEVALUING_PRACTICES]
        events.append(
            event(
                BiasIncidentReported(incident_id, rng.choice(list(IncidentCategory))),
                reported,
                levers,
                principles,
            )
        )
        if rng.random() < 0.9:
            acknowledged = reported + timedelta(hours=rng.randint(2, 120))
            events.append(
                event(BiasIncidentAcknowledged(incident_id), acknowledged, levers, principles)
            )
            if rng.random() < 0.7:
                resolved = acknowledged + timedelta(hours=rng.randint(24, 24 * 25))
                events.append(
                    event(BiasIncidentResolved(incident_id), resolved, levers, principles)
                )
    applicants = rng.randint(300, 1500)
    interviewed = applicants // rng.randint(4, 8)
    ranked = int(interviewed * 0.8)
    matched = max(1, ranked // 6)
    events.append(
        event(
            RecruitmentFunnelSnapshot(
                cycle="2026",
                applicants=applicants,
                interviewed=interviewed,
                ranked=ranked,
                matched=matched,
                applicants_urim=applicants // 6,
                interviewed_urim=interviewed // 6,
                ranked_urim=ranked // 7,
                matched_urim=matched // 7,
            ),
            now - timedelta(days=rng.randint(30, 200)),
            [Lever.AWARENESS],
            [Principle.VISIBLE_LEADERSHIP_COMMITMENT],
        )
    )
    events.append(
        event(
            CommunityPartnership(f"{site.site_id}-partner-1", "community_health_center"),
            _between(rng, start, now - timedelta(days=1)),
            [Lever.CONNECTION],
            [Principle.VISIBLE_LEADERSHIP_COMMITMENT],
        )
    )
    for _ in range(rng.randint(2, 6)):
        events.append(
            event(
                AffinityGroupMeeting(f"{site.site_id}-affinity-urim", rng.randint(5, 40)),
                _between(rng, start, now - timedelta(days=1)),
                [Lever.CONNECTION],
                [Principle.EMPATHY_AND_INTERSECTIONALITY],
            )
        )
    return events
