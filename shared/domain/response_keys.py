"""A survey response's stable identity across re-exports, and a fingerprint of its content.

Survey tools export *all responses so far* every time; the same response keeps its id in the
tool (Qualtrics `ResponseId`, REDCap `record_id` with its event and repeat instance). The
uploader turns that id into the response's event id with HMAC-SHA256 under a secret only the
site holds (its *response key*), so:

- the same response gets the same event id in every export (ingest answers it as already sent);
- nothing on any topic can be linked back to the survey tool's id without the site's key (an
  unkeyed hash of a `ResponseId` could be recomputed by anyone holding the export).

`content_fingerprint` is what ingest compares to tell "already sent, unchanged" from "changed
since it was sent" for the same event id; it covers every field but the event id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from datetime import UTC

from shared.domain.model import SurveyResponse

RESPONSE_KEY_BYTES = 32
_DOMAIN = "jedi-response-id/v1"
_SEPARATOR = "\x1f"  # unit separator: cannot occur in an id the tools write
EVENT_ID_PREFIX = "resp-"


class ResponseKeyError(ValueError):
    """A response key that cannot be used."""


def new_response_key() -> str:
    """A new site response key: 32 random bytes, hex (what `jedi response-key create` writes)."""
    return secrets.token_hex(RESPONSE_KEY_BYTES)


def parse_response_key(text: str) -> bytes:
    """The key's bytes from the text of its file; ResponseKeyError saying what is wrong."""
    value = text.strip()
    try:
        key = bytes.fromhex(value)
    except ValueError:
        raise ResponseKeyError(
            f"is not a response key (expected {RESPONSE_KEY_BYTES * 2} hex digits)"
        ) from None
    if len(key) != RESPONSE_KEY_BYTES:
        raise ResponseKeyError(
            f"holds {len(key)} bytes; a response key is {RESPONSE_KEY_BYTES} bytes "
            f"({RESPONSE_KEY_BYTES * 2} hex digits)"
        )
    return key


def response_event_id(
    key: bytes, *, site_id: str, instrument_id: str, wave: str, parts: Sequence[str]
) -> str:
    """The event id of the response the survey tool knows by `parts` (its id, and for REDCap the
    event and repeat instance), in the scope of one site, instrument and wave ("" when the wave
    is read per row): keyed, so it cannot be recomputed without the site's key."""
    message = _SEPARATOR.join([_DOMAIN, site_id, instrument_id, wave, *parts]).encode()
    return EVENT_ID_PREFIX + hmac.new(key, message, hashlib.sha256).hexdigest()[:40]


def content_fingerprint(response: SurveyResponse) -> str:
    """A digest of everything a response says except its event id: equal for the same
    response read from two exports, different when any answer, date or field changed."""
    canonical = {
        "site_id": response.site_id,
        "instrument": [response.instrument_id, response.instrument_version],
        "wave": str(response.wave),
        "role": None if response.role is None else str(response.role),
        "department": None if response.department is None else str(response.department),
        "submitted_at": response.submitted_at.astimezone(UTC).isoformat(),
        "source_system": response.source_system,
        # An item not answered reads the same whether it is absent or None.
        "answers": sorted((k, v) for k, v in response.answers.items() if v is not None),
        "groups": sorted((str(k), v) for k, v in response.groups.items()),
        "experienced": response.experienced_discrimination,
        "witnessed": response.witnessed_discrimination,
    }
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:32]
