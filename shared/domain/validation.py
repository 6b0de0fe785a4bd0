"""Validation of domain objects before they are accepted into the platform.

Pure functions: no clock (callers pass `now`), no I/O, no exceptions for bad data.
Each returns a list of `FieldError`; an empty list means valid. Field names are the
protobuf field paths a site submitted (`survey_response.answers["BEL1"]`,
`intervention.training_session.completed`), so a rejection points at the exact input.

Rules enforced here, beyond what the types already guarantee:

- identifiers are non-empty, at most `MAX_ID_LENGTH` (site and instrument ids:
  `MAX_SHORT_ID_LENGTH`) characters of letters, digits and `.`, `_`, `-`, `:`,
  starting with a letter or digit. No spaces and no `@`, so an email address can
  never serve as an id;
- times carry a time zone, are not before `EARLIEST_PLAUSIBLE_TIME` (an unset or
  mis-parsed date) and not after `now + CLOCK_SKEW_ALLOWANCE`. Five minutes of skew
  absorbs ordinary drift between a site's clock and ours without accepting data that
  is really from the future;
- a survey response names a registered instrument version and a wave that
  instrument defines; it was submitted inside that wave's window, which is half-open,
  `[opens_at, closes_at)`; late responses are rejected; its answers are Likert 1..5 on
  the instrument's items, and at least one item is answered; group values are among
  `model.GROUP_VALUES`;
- counts are non-negative and consistent: completed <= attended <= invited; the
  recruitment funnel narrows (applicants >= interviewed >= ranked >= matched), as do
  its under-represented-in-medicine counts, each of which is at most its stage total;
- a bias incident moves reported -> acknowledged -> resolved, in time order
  (`validate_incident_transition`, given what ingest knows about the incident).

Survey respondents must stay anonymous. The domain and protobuf types have no place
for an identifier, but a CSV or JSON export can carry one in a column that a parser
would silently drop; `identifying_columns` lets an uploader drop such a column while
reading, before any of its values is held.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from shared.domain import model
from shared.domain.model import (
    AffinityGroupMeeting,
    BiasIncidentAcknowledged,
    BiasIncidentReported,
    BiasIncidentResolved,
    CommunityPartnership,
    Instrument,
    InterventionEvent,
    MentoringPairing,
    PolicyChange,
    RecruitmentFunnelSnapshot,
    Site,
    SurveyResponse,
    TrainingSession,
)

CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)
EARLIEST_PLAUSIBLE_TIME = datetime(2000, 1, 1, tzinfo=UTC)
MAX_ID_LENGTH = 128
MAX_SHORT_ID_LENGTH = 64
MAX_LABEL_LENGTH = 200
LIKERT_MIN, LIKERT_MAX = 1, 5

_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]*")
_ITEM_CODE_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,31}")
# Labels are short human-readable names (a policy title, a region). Control characters
# and line breaks are refused so a label cannot smuggle in a narrative.
_LABEL_PATTERN = re.compile(r"[^\x00-\x1f\x7f]+")

# The field path prefixes: the names of the `payload` oneof in jedi.v1.Event and of the
# message fields in PutSiteRequest / PutInstrumentRequest.
INTERVENTION = "intervention"
SURVEY_RESPONSE = "survey_response"
SITE = "site"
INSTRUMENT = "instrument"


@dataclass(frozen=True)
class FieldError:
    """Why one field of a submitted message was rejected.

    `field` is a protobuf field path such as `intervention.training_session.completed`
    or `survey_response.answers["BEL1"]`; `reason` is meant for whoever fixes the data.
    """

    field: str
    reason: str


InstrumentRegistry = Mapping[tuple[str, int], Instrument]
"""Registered instruments keyed by (instrument_id, version)."""


def index_instruments(instruments: Iterable[Instrument]) -> dict[tuple[str, int], Instrument]:
    """Key instruments by (instrument_id, version), the shape validators look them up in."""
    return {
        (instrument.instrument_id, instrument.version): instrument for instrument in instruments
    }


def map_key_path(field: str, key: str) -> str:
    """The field path of one entry of a map field: `answers["BEL1"]`."""
    return f"{field}[{json.dumps(key, ensure_ascii=False)}]"


# --- Building blocks ----------------------------------------------------------------


def _check_id(field: str, value: object, *, max_length: int = MAX_ID_LENGTH) -> list[FieldError]:
    if not isinstance(value, str) or value == "":
        return [FieldError(field, "is required")]
    if len(value) > max_length:
        return [FieldError(field, f"is {len(value)} characters long; at most {max_length} allowed")]
    if not _ID_PATTERN.fullmatch(value):
        return [
            FieldError(
                field,
                "may contain only letters, digits and . _ - : and must start with a letter or digit",
            )
        ]
    return []


def _check_label(
    field: str, value: object, *, max_length: int = MAX_LABEL_LENGTH
) -> list[FieldError]:
    if not isinstance(value, str) or value.strip() == "":
        return [FieldError(field, "is required")]
    if len(value) > max_length:
        return [FieldError(field, f"is {len(value)} characters long; at most {max_length} allowed")]
    if not _LABEL_PATTERN.fullmatch(value):
        return [FieldError(field, "must be a single line without control characters")]
    return []


def _check_count(field: str, value: object) -> list[FieldError]:
    if not isinstance(value, int) or isinstance(value, bool):
        return [FieldError(field, "must be a whole number")]
    if value < 0:
        return [FieldError(field, f"must not be negative (got {value})")]
    return []


def _check_not_more(
    smaller_field: str, smaller: int, larger_field: str, larger: int
) -> list[FieldError]:
    """`smaller` must not exceed `larger`; the error names the field that is too big."""
    if smaller > larger:
        larger_name = larger_field.rsplit(".", 1)[-1]
        return [FieldError(smaller_field, f"is {smaller}, more than {larger_name} ({larger})")]
    return []


def _is_aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.tzinfo.utcoffset(moment) is not None


def _require_aware_now(now: datetime) -> None:
    # A naive `now` is a programming error in the caller, not bad input data.
    if not isinstance(now, datetime) or not _is_aware(now):
        raise ValueError("`now` must be a timezone-aware datetime")


def _check_time(field: str, moment: object, *, now: datetime) -> list[FieldError]:
    if not isinstance(moment, datetime):
        return [FieldError(field, "is required")]
    if not _is_aware(moment):
        return [FieldError(field, "must carry a time zone")]
    if moment < EARLIEST_PLAUSIBLE_TIME:
        return [
            FieldError(
                field,
                f"{_format_time(moment)} is before {_format_time(EARLIEST_PLAUSIBLE_TIME)}; "
                "probably an unset or mis-parsed date",
            )
        ]
    if moment > now + CLOCK_SKEW_ALLOWANCE:
        return [
            FieldError(
                field,
                f"{_format_time(moment)} is in the future (now is {_format_time(now)}; "
                f"{int(CLOCK_SKEW_ALLOWANCE.total_seconds() // 60)} minutes of clock skew allowed)",
            )
        ]
    return []


def _format_time(moment: datetime) -> str:
    if _is_aware(moment):
        try:
            moment = moment.astimezone(UTC)
        except OverflowError:  # year 1 or 9999 in a non-UTC zone: show it as given
            return moment.isoformat()
        return moment.isoformat().replace("+00:00", "Z")
    return moment.isoformat()


def _check_enum(field: str, value: object, enum_type: type[Enum]) -> list[FieldError]:
    if not isinstance(value, enum_type):
        return [
            FieldError(field, f"must be one of {', '.join(member.value for member in enum_type)}")
        ]
    return []


# --- Survey responses ---------------------------------------------------------------


def validate_survey_response(
    response: SurveyResponse, instrument_registry: InstrumentRegistry, *, now: datetime
) -> list[FieldError]:
    """Check one anonymous survey response against the registered instruments."""
    _require_aware_now(now)
    prefix = SURVEY_RESPONSE
    errors: list[FieldError] = []
    errors += _check_id(f"{prefix}.event_id", response.event_id)
    errors += _check_id(f"{prefix}.site_id", response.site_id, max_length=MAX_SHORT_ID_LENGTH)
    errors += _check_id(
        f"{prefix}.source_system", response.source_system, max_length=MAX_SHORT_ID_LENGTH
    )
    errors += _check_enum(f"{prefix}.wave", response.wave, model.Wave)
    # Role and department are optional questions: None is "not answered".
    if response.role is not None:
        errors += _check_enum(f"{prefix}.role", response.role, model.Role)
    if response.department is not None:
        errors += _check_enum(f"{prefix}.department", response.department, model.Department)
    submitted_at_errors = _check_time(f"{prefix}.submitted_at", response.submitted_at, now=now)
    errors += submitted_at_errors

    instrument, instrument_errors = _find_instrument(response, instrument_registry)
    errors += instrument_errors
    errors += _check_answers(response.answers, instrument)
    if instrument is not None and not submitted_at_errors:
        errors += _check_wave_window(response, instrument)
    errors += _check_groups(response.groups)
    for name in ("experienced_discrimination", "witnessed_discrimination"):
        value = getattr(response, name)
        if value is not None and not isinstance(value, bool):
            errors.append(FieldError(f"{prefix}.{name}", "must be true, false or not answered"))
    return errors


def _find_instrument(
    response: SurveyResponse, registry: InstrumentRegistry
) -> tuple[Instrument | None, list[FieldError]]:
    id_errors = _check_id(
        f"{SURVEY_RESPONSE}.instrument_id", response.instrument_id, max_length=MAX_SHORT_ID_LENGTH
    )
    if id_errors:
        return None, id_errors
    version = response.instrument_version
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return None, [
            FieldError(
                f"{SURVEY_RESPONSE}.instrument_version", "must be a version number of 1 or more"
            )
        ]
    instrument = registry.get((response.instrument_id, version))
    if instrument is not None:
        return instrument, []
    known_versions = sorted(v for (known_id, v) in registry if known_id == response.instrument_id)
    if not known_versions:
        return None, [
            FieldError(
                f"{SURVEY_RESPONSE}.instrument_id",
                f"unknown instrument {response.instrument_id!r}",
            )
        ]
    return None, [
        FieldError(
            f"{SURVEY_RESPONSE}.instrument_version",
            f"instrument {response.instrument_id!r} has no version {version} "
            f"(registered: {', '.join(map(str, known_versions))})",
        )
    ]


def _check_answers(
    answers: Mapping[str, int | None], instrument: Instrument | None
) -> list[FieldError]:
    field = f"{SURVEY_RESPONSE}.answers"
    errors: list[FieldError] = []
    answered = 0
    for code, value in answers.items():
        if instrument is not None and (not isinstance(code, str) or instrument.item(code) is None):
            errors.append(
                FieldError(
                    map_key_path(field, str(code)),
                    f"is not an item of instrument {instrument.instrument_id!r} version {instrument.version}",
                )
            )
            continue
        if value is None:
            continue
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not LIKERT_MIN <= value <= LIKERT_MAX
        ):
            errors.append(
                FieldError(
                    map_key_path(field, str(code)),
                    f"must be a Likert answer {LIKERT_MIN}..{LIKERT_MAX} or not answered (got {value!r})",
                )
            )
            continue
        answered += 1
    if answered == 0 and not errors:
        errors.append(FieldError(field, "no item is answered"))
    return errors


def _check_wave_window(response: SurveyResponse, instrument: Instrument) -> list[FieldError]:
    if not isinstance(response.wave, model.Wave):
        return []  # already reported
    window = instrument.window(response.wave)
    if window is None:
        defined = ", ".join(w.wave.value for w in instrument.waves) or "none"
        return [
            FieldError(
                f"{SURVEY_RESPONSE}.wave",
                f"instrument {instrument.instrument_id!r} version {instrument.version} has no "
                f"{response.wave.value} wave (defined: {defined})",
            )
        ]
    submitted_at = response.submitted_at
    field = f"{SURVEY_RESPONSE}.submitted_at"
    if not (_is_aware(window.opens_at) and _is_aware(window.closes_at)):
        return [
            FieldError(f"{SURVEY_RESPONSE}.wave", "the registered wave window has no time zone")
        ]
    if submitted_at < window.opens_at:
        return [
            FieldError(
                field,
                f"{_format_time(submitted_at)} is before the {window.wave.value} wave opened "
                f"({_format_time(window.opens_at)})",
            )
        ]
    if submitted_at >= window.closes_at:
        return [
            FieldError(
                field,
                f"late response: the {window.wave.value} wave closed at {_format_time(window.closes_at)} "
                f"and this was submitted at {_format_time(submitted_at)}",
            )
        ]
    return []


def _check_groups(groups: Mapping[model.GroupDimension, str]) -> list[FieldError]:
    # Positions follow the mapping's order, which convert.py keeps equal to the order of
    # the repeated `groups` field, so `groups[i]` points at the submitted entry.
    errors: list[FieldError] = []
    for index, (dimension, value) in enumerate(groups.items()):
        entry = f"{SURVEY_RESPONSE}.groups[{index}]"
        if not isinstance(dimension, model.GroupDimension):
            errors.append(
                FieldError(f"{entry}.dimension", f"unknown group dimension {dimension!r}")
            )
            continue
        allowed = model.GROUP_VALUES[dimension]
        if value not in allowed:
            errors.append(
                FieldError(
                    f"{entry}.value",
                    f"{value!r} is not a value of {dimension.value}; allowed: {', '.join(sorted(allowed))}",
                )
            )
    return errors


# --- Intervention events ------------------------------------------------------------


def validate_intervention(event: InterventionEvent, *, now: datetime) -> list[FieldError]:
    """Check one intervention event on its own (see `validate_incident_transition` for ordering)."""
    _require_aware_now(now)
    prefix = INTERVENTION
    errors: list[FieldError] = []
    errors += _check_id(f"{prefix}.event_id", event.event_id)
    errors += _check_id(f"{prefix}.site_id", event.site_id, max_length=MAX_SHORT_ID_LENGTH)
    errors += _check_id(
        f"{prefix}.source_system", event.source_system, max_length=MAX_SHORT_ID_LENGTH
    )
    errors += _check_time(f"{prefix}.occurred_at", event.occurred_at, now=now)
    for index, lever in enumerate(event.levers):
        errors += _check_enum(f"{prefix}.levers[{index}]", lever, model.Lever)
    for index, principle in enumerate(event.principles):
        errors += _check_enum(f"{prefix}.principles[{index}]", principle, model.Principle)
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
                _check_id(f"{path}.session_id", detail.session_id)
                + _check_enum(f"{path}.topic", detail.topic, model.TrainingTopic)
                + _check_enum(f"{path}.audience_role", detail.audience_role, model.Role)
                + _check_ordered_counts(path, ("invited", "attended", "completed"), detail)
            )
        case MentoringPairing():
            return (
                _check_id(f"{path}.pairing_id", detail.pairing_id)
                + _check_enum(f"{path}.mentee_role", detail.mentee_role, model.Role)
                + _check_enum(f"{path}.mentor_role", detail.mentor_role, model.Role)
            )
        case PolicyChange():
            return (
                _check_id(f"{path}.policy_id", detail.policy_id)
                + _check_enum(f"{path}.stage", detail.stage, model.PolicyStage)
                + _check_label(f"{path}.title", detail.title)
            )
        case BiasIncidentReported():
            return _check_id(f"{path}.incident_id", detail.incident_id) + _check_enum(
                f"{path}.category", detail.category, model.IncidentCategory
            )
        case BiasIncidentAcknowledged() | BiasIncidentResolved():
            return _check_id(f"{path}.incident_id", detail.incident_id)
        case RecruitmentFunnelSnapshot():
            return _check_id(
                f"{path}.cycle", detail.cycle, max_length=MAX_SHORT_ID_LENGTH
            ) + _check_funnel(path, detail)
        case CommunityPartnership():
            return _check_id(f"{path}.partnership_id", detail.partnership_id) + _check_label(
                f"{path}.partner_kind", detail.partner_kind, max_length=MAX_SHORT_ID_LENGTH
            )
        case AffinityGroupMeeting():
            return _check_id(f"{path}.group_id", detail.group_id) + _check_count(
                f"{path}.attendees", detail.attendees
            )
    return []


def _check_ordered_counts(path: str, stages: tuple[str, ...], detail: object) -> list[FieldError]:
    """Each stage is a non-negative count no larger than the stage before it."""
    values = {stage: getattr(detail, stage) for stage in stages}
    errors = [error for stage in stages for error in _check_count(f"{path}.{stage}", values[stage])]
    if errors:
        return errors  # comparing a missing or negative count would only add noise
    for earlier, later in zip(stages, stages[1:], strict=False):
        errors += _check_not_more(
            f"{path}.{later}", values[later], f"{path}.{earlier}", values[earlier]
        )
    return errors


_FUNNEL_STAGES = ("applicants", "interviewed", "ranked", "matched")
_FUNNEL_URIM_STAGES = tuple(f"{stage}_urim" for stage in _FUNNEL_STAGES)


def _check_funnel(path: str, funnel: RecruitmentFunnelSnapshot) -> list[FieldError]:
    errors = _check_ordered_counts(path, _FUNNEL_STAGES, funnel)
    errors += _check_ordered_counts(path, _FUNNEL_URIM_STAGES, funnel)
    all_counts_valid = not any(
        _check_count("", getattr(funnel, stage)) for stage in _FUNNEL_STAGES + _FUNNEL_URIM_STAGES
    )
    if all_counts_valid:
        for stage, urim_stage in zip(_FUNNEL_STAGES, _FUNNEL_URIM_STAGES, strict=False):
            errors += _check_not_more(
                f"{path}.{urim_stage}",
                getattr(funnel, urim_stage),
                f"{path}.{stage}",
                getattr(funnel, stage),
            )
    return errors


# --- Bias-incident lifecycle ----------------------------------------------------------


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
                    f"incident {incident} cannot be {step} at {_format_time(occurred_at)}, "
                    f"before it was {previous_step[step]} at {_format_time(earlier)}",
                )
            ]
        return []

    match detail:
        case BiasIncidentReported():
            if previous_times.reported_at is not None:
                return [
                    FieldError(
                        incident_field,
                        f"incident {incident} was already reported at {_format_time(previous_times.reported_at)}",
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
                        f"{_format_time(previous_times.acknowledged_at)}",
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
                        f"incident {incident} was already resolved at {_format_time(previous_times.resolved_at)}",
                    )
                ]
            return not_before("resolved", previous_times.acknowledged_at)
    return []


# --- Registry -------------------------------------------------------------------------


def validate_site(site: Site) -> list[FieldError]:
    """Check a site's registry entry."""
    errors: list[FieldError] = []
    errors += _check_id(f"{SITE}.site_id", site.site_id, max_length=MAX_SHORT_ID_LENGTH)
    errors += _check_label(f"{SITE}.name", site.name)
    errors += _check_label(f"{SITE}.region", site.region, max_length=MAX_SHORT_ID_LENGTH)
    errors += _check_enum(f"{SITE}.urbanicity", site.urbanicity, model.Urbanicity)
    errors += _check_enum(f"{SITE}.teaching_type", site.teaching_type, model.TeachingType)
    errors += _check_id(f"{SITE}.collaborative", site.collaborative, max_length=MAX_SHORT_ID_LENGTH)
    for index, (role, headcount) in enumerate(site.eligible_headcount.items()):
        entry = f"{SITE}.eligible_headcount[{index}]"
        errors += _check_enum(f"{entry}.role", role, model.Role)
        errors += _check_count(f"{entry}.headcount", headcount)
    return errors


def validate_instrument(instrument: Instrument) -> list[FieldError]:
    """Check an instrument version before it is registered."""
    errors: list[FieldError] = []
    errors += _check_id(
        f"{INSTRUMENT}.instrument_id", instrument.instrument_id, max_length=MAX_SHORT_ID_LENGTH
    )
    version = instrument.version
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        errors.append(FieldError(f"{INSTRUMENT}.version", "must be a version number of 1 or more"))
    if not instrument.items:
        errors.append(FieldError(f"{INSTRUMENT}.items", "an instrument needs at least one item"))
    seen_codes: set[str] = set()
    for index, item in enumerate(instrument.items):
        entry = f"{INSTRUMENT}.items[{index}]"
        if not isinstance(item.code, str) or not _ITEM_CODE_PATTERN.fullmatch(item.code):
            errors.append(
                FieldError(
                    f"{entry}.code",
                    "must be 1-32 letters, digits, _ . or -, starting with a letter",
                )
            )
        elif item.code in seen_codes:
            errors.append(
                FieldError(f"{entry}.code", f"item code {item.code!r} appears more than once")
            )
        else:
            seen_codes.add(item.code)
        errors += _check_enum(f"{entry}.composite", item.composite, model.Composite)
        if not isinstance(item.text, str) or len(item.text) > 1000:
            errors.append(FieldError(f"{entry}.text", "must be text of at most 1000 characters"))
    seen_waves: set[model.Wave] = set()
    for index, window in enumerate(instrument.waves):
        entry = f"{INSTRUMENT}.waves[{index}]"
        if not isinstance(window.wave, model.Wave):
            errors += _check_enum(f"{entry}.wave", window.wave, model.Wave)
        elif window.wave in seen_waves:
            errors.append(
                FieldError(
                    f"{entry}.wave", f"the {window.wave.value} wave is defined more than once"
                )
            )
        else:
            seen_waves.add(window.wave)
        opens_ok = isinstance(window.opens_at, datetime) and _is_aware(window.opens_at)
        closes_ok = isinstance(window.closes_at, datetime) and _is_aware(window.closes_at)
        if not opens_ok:
            errors.append(FieldError(f"{entry}.opens_at", "is required and must carry a time zone"))
        if not closes_ok:
            errors.append(
                FieldError(f"{entry}.closes_at", "is required and must carry a time zone")
            )
        if opens_ok and closes_ok and window.closes_at <= window.opens_at:
            errors.append(
                FieldError(
                    f"{entry}.closes_at",
                    f"{_format_time(window.closes_at)} is not after opens_at {_format_time(window.opens_at)}",
                )
            )
    return errors


# --- Identifying columns in survey exports --------------------------------------------

# Column names are compared as lower-case word tokens: "RecipientEmail", "recipient-email"
# and "Recipient Email" all become ("recipient", "email").
_WHO = "who responded"
_NAME = "a person's name"
_NUMBER = "a personal identifier number"
_DEVICE = "a network or device identifier"
_BIRTH = "a date of birth"
_ADDRESS = "a home address"
_FREE_TEXT = "free text"
_TOOL_RECORD = "a survey tool's response or record id, which links the answers to the tool's record of who responded"

_SINGLE_TOKENS: Mapping[str, str] = {
    **dict.fromkeys(("email", "emailaddress", "mail"), "an email address"),
    **dict.fromkeys(("phone", "telephone", "mobile", "cellphone", "fax"), "a phone number"),
    **dict.fromkeys(("mrn", "npi", "ssn"), _NUMBER),
    **dict.fromkeys(("dob", "birthdate", "birthday"), _BIRTH),
    **dict.fromkeys(
        (
            "firstname",
            "lastname",
            "surname",
            "fullname",
            "nickname",
            "preferredname",
            "username",
            "login",
        ),
        _NAME,
    ),
    **dict.fromkeys(
        ("ip", "ipaddress", "macaddress", "useragent", "fingerprint", "deviceid"), _DEVICE
    ),
    **dict.fromkeys(("latitude", "longitude", "geolocation", "gps"), "a location"),
    **dict.fromkeys(("address", "street", "zip", "zipcode", "postcode", "postalcode"), _ADDRESS),
    **dict.fromkeys(
        (
            "comment",
            "comments",
            "narrative",
            "freetext",
            "notes",
            "note",
            "remarks",
            "feedback",
            "text",
        ),
        _FREE_TEXT,
    ),
    **dict.fromkeys(
        (
            "respondentid",
            "participantid",
            "employeeid",
            "recipientid",
            "staffid",
            "userid",
            "personid",
            "memberid",
            "badgeid",
            "empid",
        ),
        _WHO,
    ),
    **dict.fromkeys(("responseid", "recordid"), _TOOL_RECORD),
}

# A token naming a person followed by one naming a key: "respondent_id", "EmployeeNumber".
_PERSON_TOKENS = frozenset(
    {
        "respondent",
        "participant",
        "employee",
        "emp",
        "recipient",
        "staff",
        "user",
        "person",
        "member",
        "badge",
        "resident",
        "student",
        "faculty",
        "external",
    }
)
_KEY_TOKENS = frozenset(
    {"id", "number", "no", "num", "code", "key", "ref", "reference", "identifier"}
)

_TOKEN_PAIRS: Mapping[tuple[str, str], str] = {
    **{
        (first, "name"): _NAME
        for first in ("first", "last", "full", "given", "family", "middle", "user", "nick")
    },
    ("device", "id"): _DEVICE,
    ("ip", "address"): _DEVICE,
    ("mac", "address"): _DEVICE,
    ("user", "agent"): _DEVICE,
    ("medical", "record"): _NUMBER,
    ("social", "security"): _NUMBER,
    ("date", "birth"): _BIRTH,
    ("birth", "date"): _BIRTH,
    ("free", "text"): _FREE_TEXT,
    ("open", "text"): _FREE_TEXT,
    ("other", "specify"): _FREE_TEXT,
    ("postal", "code"): _ADDRESS,
    ("zip", "code"): _ADDRESS,
    ("response", "id"): _TOOL_RECORD,
    ("record", "id"): _TOOL_RECORD,
    ("survey", "identifier"): _TOOL_RECORD,  # REDCap's redcap_survey_identifier
}

# "name" alone is a person's name unless the column plainly names something else.
_NON_PERSON_NAMES = frozenset(
    {
        "site",
        "hospital",
        "institution",
        "organization",
        "organisation",
        "org",
        "instrument",
        "survey",
        "wave",
        "department",
        "dept",
        "program",
        "programme",
        "item",
        "group",
        "role",
        "file",
        "source",
        "system",
        "collaborative",
        "region",
        "question",
    }
)


def _column_tokens(column: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", column)  # camelCase -> camel Case
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)  # IPAddress -> IP Address
    return [token for token in re.split(r"[^a-z0-9]+", spaced.lower()) if token]


def explain_identifying_column(column: str) -> str | None:
    """Why a survey-export column could identify a respondent, or None if it looks safe.

    A bare `id` is allowed. A survey tool's response or record id (`ResponseId`,
    `record_id`, `redcap_survey_identifier`) is not: the tool keeps it next to the
    recipient's email, so it would link the answers back to a person.
    """
    tokens = _column_tokens(column)
    joined = "".join(tokens)
    if joined in _SINGLE_TOKENS:
        return _SINGLE_TOKENS[joined]
    for token in tokens:
        if token in _SINGLE_TOKENS:
            return _SINGLE_TOKENS[token]
    for pair in zip(tokens, tokens[1:], strict=False):
        if pair in _TOKEN_PAIRS:
            return _TOKEN_PAIRS[pair]
        if pair[0] in _PERSON_TOKENS and pair[1] in _KEY_TOKENS:
            return _WHO
    # "date_of_birth": the pair is separated by "of".
    for first, _, third in zip(tokens, tokens[1:], tokens[2:], strict=False):
        if (first, third) in _TOKEN_PAIRS:
            return _TOKEN_PAIRS[(first, third)]
    if "name" in tokens and not _NON_PERSON_NAMES.intersection(tokens):
        return "a person's name"
    return None


def identifying_columns(column_names: Iterable[str]) -> list[str]:
    """The columns of a survey export that could identify a respondent, in input order.

    An uploader refuses a file that has any: protobuf parsing would drop an unknown
    field silently, so the check has to happen on the raw rows.
    """
    return [column for column in column_names if explain_identifying_column(column) is not None]


def identifying_column_errors(column_names: Iterable[str]) -> list[FieldError]:
    """`identifying_columns` with the reason for each, for an uploader to show."""
    errors = []
    for column in column_names:
        reason = explain_identifying_column(column)
        if reason is not None:
            errors.append(FieldError(column, f"column could identify a respondent ({reason})"))
    return errors
