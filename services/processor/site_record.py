"""A site's record (`shared.domain.publication.site_record`) as the processor's table keeps it.

One value, one changelog record. Encoded as zlib-compressed JSON (state_codec keeps it exact); sorted, so equal records encode
to equal bytes.
"""

from __future__ import annotations

import base64
import json
import zlib
from datetime import datetime
from typing import Any

from jedi.v1 import registry_pb2
from shared.convert import site_from_proto, site_to_proto
from shared.domain.aggregates import SiteState, state_from_dict, state_to_dict
from shared.domain.model import Site
from shared.domain.publication.site_record import SiteRecord
from shared.domain.published import published_from_dict, published_to_dict

RECORD_SCHEMA = 3
READABLE_SCHEMAS = (2, 3)  # 2: before calendar releases (no history, no slot)


class _StateDicts:
    """`state_to_dict` of the states encoded lately, by object: a batch encodes the same states
    twice (its intent, then its value), and the last release's state again in the next batch.
    States are immutable, so a dictionary found for the same object is still right. Emptied when
    full: a larger batch only computes some dictionaries again."""

    def __init__(self, capacity: int = 1024) -> None:
        self._capacity = capacity
        self._dicts: dict[int, tuple[SiteState, dict[str, Any]]] = {}

    def __call__(self, state: SiteState) -> dict[str, Any]:
        found = self._dicts.get(id(state))
        if found is None or found[0] is not state:
            if len(self._dicts) >= self._capacity:
                self._dicts.clear()
            found = self._dicts[id(state)] = (state, state_to_dict(state))
        return found[1]


_state_dict = _StateDicts()


def encode_record(record: SiteRecord) -> bytes:
    site = (
        None
        if record.site is None
        else base64.b64encode(site_to_proto(record.site).SerializeToString()).decode()
    )
    document = {
        "schema": RECORD_SCHEMA,
        "site_id": record.site_id,
        "state": _state_dict(record.state),
        "applied": sorted(record.applied),
        "site": site,
        "site_version": record.site_version,
        "interventions": record.interventions,
        "released": None if record.released is None else _state_dict(record.released),
        "released_interventions": record.released_interventions,
        "release_number": record.release_number,
        "release_cut_at": None
        if record.release_cut_at is None
        else record.release_cut_at.isoformat(),
        "release_digest": record.release_digest,
        "held_back_digest": record.held_back_digest,
        "considered_slot": None
        if record.considered_slot is None
        else record.considered_slot.isoformat(),
        "history": [published_to_dict(release) for release in record.history],
    }
    return zlib.compress(json.dumps(document, separators=(",", ":"), sort_keys=True).encode(), 6)


def decode_record(data: bytes) -> SiteRecord:
    document = json.loads(zlib.decompress(data))
    if document.get("schema") not in READABLE_SCHEMAS:
        raise ValueError(f"unsupported site record schema {document.get('schema')!r}")
    site: Site | None = None
    if document["site"] is not None:
        converted = site_from_proto(
            registry_pb2.Site.FromString(base64.b64decode(document["site"]))
        )
        if isinstance(converted, list):
            raise ValueError(
                f"the stored site of {document['site_id']!r} does not convert: {converted}"
            )
        site = converted
    return SiteRecord(
        site_id=document["site_id"],
        state=state_from_dict(document["state"]),
        applied=frozenset(document["applied"]),
        site=site,
        site_version=document["site_version"],
        interventions=document["interventions"],
        released=None if document["released"] is None else state_from_dict(document["released"]),
        released_interventions=document["released_interventions"],
        release_number=document["release_number"],
        release_cut_at=None
        if document["release_cut_at"] is None
        else datetime.fromisoformat(document["release_cut_at"]),
        release_digest=document["release_digest"],
        held_back_digest=document["held_back_digest"],
        considered_slot=None
        if document.get("considered_slot") is None
        else datetime.fromisoformat(document["considered_slot"]),
        history=tuple(published_from_dict(item) for item in document.get("history", ())),
    )
