"""Registry entries: a site and an instrument version, before they are registered."""

from __future__ import annotations

from datetime import datetime

from shared.domain import model
from shared.domain.model import (
    Instrument,
    Site,
)
from shared.domain.validation.checks import (
    ITEM_CODE_PATTERN,
    MAX_SHORT_ID_LENGTH,
    check_count,
    check_enum,
    check_id,
    check_label,
    format_time,
    is_aware,
)
from shared.domain.validation.errors import (
    INSTRUMENT,
    SITE,
    FieldError,
)


def validate_site(site: Site) -> list[FieldError]:
    """Check a site's registry entry."""
    errors: list[FieldError] = []
    errors += check_id(f"{SITE}.site_id", site.site_id, max_length=MAX_SHORT_ID_LENGTH)
    errors += check_label(f"{SITE}.name", site.name)
    errors += check_label(f"{SITE}.region", site.region, max_length=MAX_SHORT_ID_LENGTH)
    errors += check_enum(f"{SITE}.urbanicity", site.urbanicity, model.Urbanicity)
    errors += check_enum(f"{SITE}.teaching_type", site.teaching_type, model.TeachingType)
    errors += check_id(f"{SITE}.collaborative", site.collaborative, max_length=MAX_SHORT_ID_LENGTH)
    for index, (role, headcount) in enumerate(site.eligible_headcount.items()):
        entry = f"{SITE}.eligible_headcount[{index}]"
        errors += check_enum(f"{entry}.role", role, model.Role)
        errors += check_count(f"{entry}.headcount", headcount)
    return errors


def validate_instrument(instrument: Instrument) -> list[FieldError]:
    """Check an instrument version before it is registered."""
    errors: list[FieldError] = []
    errors += check_id(
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
        if not isinstance(item.code, str) or not ITEM_CODE_PATTERN.fullmatch(item.code):
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
        errors += check_enum(f"{entry}.composite", item.composite, model.Composite)
        if not isinstance(item.text, str) or len(item.text) > 1000:
            errors.append(FieldError(f"{entry}.text", "must be text of at most 1000 characters"))
    seen_waves: set[model.Wave] = set()
    for index, window in enumerate(instrument.waves):
        entry = f"{INSTRUMENT}.waves[{index}]"
        if not isinstance(window.wave, model.Wave):
            errors += check_enum(f"{entry}.wave", window.wave, model.Wave)
        elif window.wave in seen_waves:
            errors.append(
                FieldError(
                    f"{entry}.wave", f"the {window.wave.value} wave is defined more than once"
                )
            )
        else:
            seen_waves.add(window.wave)
        opens_ok = isinstance(window.opens_at, datetime) and is_aware(window.opens_at)
        closes_ok = isinstance(window.closes_at, datetime) and is_aware(window.closes_at)
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
                    f"{format_time(window.closes_at)} is not after opens_at {format_time(window.opens_at)}",
                )
            )
    return errors
