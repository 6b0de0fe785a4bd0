"""Why a field was rejected, and the field paths errors are named by."""

from __future__ import annotations

import json
from dataclasses import dataclass

# The field path prefixes: the names of the `payload` oneof in jedi.v1.Event and of the
# message fields in PutSiteRequest / PutInstrumentRequest / PutCycleRequest.
INTERVENTION = "intervention"
SURVEY_RESPONSE = "survey_response"
SITE = "site"
INSTRUMENT = "instrument"
CYCLE = "cycle"


@dataclass(frozen=True)
class FieldError:
    """Why one field of a submitted message was rejected.

    `field` is a protobuf field path such as `intervention.training_session.completed`
    or `survey_response.answers["BEL1"]`; `reason` is meant for whoever fixes the data.
    """

    field: str
    reason: str


def map_key_path(field: str, key: str) -> str:
    """The field path of one entry of a map field: `answers["BEL1"]`."""
    return f"{field}[{json.dumps(key, ensure_ascii=False)}]"
