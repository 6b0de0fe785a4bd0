"""Survey responses: a registered instrument and wave, answers on its items, inside the wave's
window; and, when a response names its survey cycle, inside that registered cycle."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from shared.domain import model
from shared.domain.cycles import SurveyCycle
from shared.domain.model import (
    Instrument,
    SurveyResponse,
)
from shared.domain.validation.checks import (
    LIKERT_MAX,
    LIKERT_MIN,
    MAX_SHORT_ID_LENGTH,
    check_enum,
    check_id,
    check_time,
    format_time,
    is_aware,
    require_aware_now,
)
from shared.domain.validation.errors import (
    SURVEY_RESPONSE,
    FieldError,
    map_key_path,
)

InstrumentRegistry = Mapping[tuple[str, int], Instrument]
"""Registered instruments keyed by (instrument_id, version)."""

CycleRegistry = Mapping[str, SurveyCycle]
"""Registered survey cycles keyed by cycle id."""


def index_instruments(instruments: Iterable[Instrument]) -> dict[tuple[str, int], Instrument]:
    """Key instruments by (instrument_id, version), the shape validators look them up in."""
    return {
        (instrument.instrument_id, instrument.version): instrument for instrument in instruments
    }


def validate_survey_response(
    response: SurveyResponse,
    instrument_registry: InstrumentRegistry,
    *,
    now: datetime,
    cycles: CycleRegistry | None = None,
) -> list[FieldError]:
    """Check one anonymous survey response against the registered instruments and, when it
    names a cycle, against that registered cycle (`cycles`: None when the caller has no
    registry of cycles, which leaves only the cycle id's form checked)."""
    require_aware_now(now)
    prefix = SURVEY_RESPONSE
    errors: list[FieldError] = []
    errors += check_id(f"{prefix}.event_id", response.event_id)
    errors += check_id(f"{prefix}.site_id", response.site_id, max_length=MAX_SHORT_ID_LENGTH)
    errors += check_id(
        f"{prefix}.source_system", response.source_system, max_length=MAX_SHORT_ID_LENGTH
    )
    errors += check_enum(f"{prefix}.wave", response.wave, model.Wave)
    # Role and department are optional questions: None is "not answered".
    if response.role is not None:
        errors += check_enum(f"{prefix}.role", response.role, model.Role)
    if response.department is not None:
        errors += check_enum(f"{prefix}.department", response.department, model.Department)
    submitted_at_errors = check_time(f"{prefix}.submitted_at", response.submitted_at, now=now)
    errors += submitted_at_errors

    instrument, instrument_errors = _find_instrument(response, instrument_registry)
    errors += instrument_errors
    errors += _check_answers(response.answers, instrument)
    if instrument is not None and not submitted_at_errors:
        errors += _check_wave_window(response, instrument)
    if response.cycle_id is not None:
        errors += _check_cycle(
            response,
            cycles,
            site_ok=not any(e.field == f"{prefix}.site_id" for e in errors),
            instrument_ok=instrument is not None,
            submitted_at_ok=not submitted_at_errors,
        )
    errors += _check_groups(response.groups)
    for name in ("experienced_discrimination", "witnessed_discrimination"):
        value = getattr(response, name)
        if value is not None and not isinstance(value, bool):
            errors.append(FieldError(f"{prefix}.{name}", "must be true, false or not answered"))
    return errors


def _find_instrument(
    response: SurveyResponse, registry: InstrumentRegistry
) -> tuple[Instrument | None, list[FieldError]]:
    id_errors = check_id(
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
    if not (is_aware(window.opens_at) and is_aware(window.closes_at)):
        return [
            FieldError(f"{SURVEY_RESPONSE}.wave", "the registered wave window has no time zone")
        ]
    if submitted_at < window.opens_at:
        return [
            FieldError(
                field,
                f"{format_time(submitted_at)} is before the {window.wave.value} wave opened "
                f"({format_time(window.opens_at)})",
            )
        ]
    if submitted_at >= window.closes_at:
        return [
            FieldError(
                field,
                f"late response: the {window.wave.value} wave closed at {format_time(window.closes_at)} "
                f"and this was submitted at {format_time(submitted_at)}",
            )
        ]
    return []


def _check_cycle(
    response: SurveyResponse,
    cycles: CycleRegistry | None,
    *,
    site_ok: bool,
    instrument_ok: bool,
    submitted_at_ok: bool,
) -> list[FieldError]:
    """The response against the cycle it names: registered, its site taking part, the cycle's
    instrument version, submitted within the cycle's half-open window [opens_at, closes_at).

    Each refusal names the cycle and its dates. A field already refused for its own sake (a
    malformed site id, an unregistered instrument, an implausible time) is not judged again.
    The cycle's other sites are never named: a site sees only itself in a cycle.
    """
    field = f"{SURVEY_RESPONSE}.cycle_id"
    id_errors = check_id(field, response.cycle_id, max_length=MAX_SHORT_ID_LENGTH)
    if id_errors or cycles is None:
        return id_errors
    cycle_id = str(response.cycle_id)
    cycle = cycles.get(cycle_id)
    if cycle is None:
        return [
            FieldError(
                field,
                f"cycle {cycle_id!r} is not registered (jedi cycle list shows the cycles "
                "a credential may read)",
            )
        ]
    dates = f"(opens {format_time(cycle.opens_at)}, closes {format_time(cycle.closes_at)})"
    named = f"cycle {cycle.cycle_id!r} {dates}"
    errors: list[FieldError] = []
    if site_ok and not cycle.takes_part(response.site_id):
        errors.append(
            FieldError(
                f"{SURVEY_RESPONSE}.site_id",
                f"site {response.site_id!r} does not take part in {named}",
            )
        )
    if instrument_ok and (response.instrument_id, response.instrument_version) != (
        cycle.instrument_id,
        cycle.instrument_version,
    ):
        which = (
            "instrument_id"
            if response.instrument_id != cycle.instrument_id
            else "instrument_version"
        )
        errors.append(
            FieldError(
                f"{SURVEY_RESPONSE}.{which}",
                f"instrument {response.instrument_id!r} version {response.instrument_version} "
                f"is not the instrument of {named}: it uses {cycle.instrument_id!r} version "
                f"{cycle.instrument_version}",
            )
        )
    submitted_at = response.submitted_at
    if (
        submitted_at_ok
        and is_aware(cycle.opens_at)
        and is_aware(cycle.closes_at)
        and not cycle.opens_at <= submitted_at < cycle.closes_at
    ):
        errors.append(
            FieldError(
                f"{SURVEY_RESPONSE}.submitted_at",
                f"submitted_at {format_time(submitted_at)} is outside cycle "
                f"{cycle.cycle_id!r} {dates}",
            )
        )
    return errors


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
