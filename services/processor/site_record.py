"""What the processor keeps per site in its table: one value, one changelog record.

The site's accumulated state, the ids of the events already folded into it, the latest
registry record of the site, the keys of its cells now on the public topic and the revision
of its last publication travel together, so that a value restored from the changelog always
says exactly which events it contains: replayed events are recognised and skipped.

Encoded as zlib-compressed JSON (state_codec keeps it exact); sorted, so equal records encode
to equal bytes.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from jedi.v1 import registry_pb2

from shared.convert import site_from_proto, site_to_proto
from shared.domain.aggregates import SiteState, empty_site_state, state_from_dict, state_to_dict
from shared.domain.model import Site

RECORD_SCHEMA = 1


@dataclass(frozen=True)
class SiteRecord:
    site_id: str
    state: SiteState
    # Events folded into `state`, or dead-lettered: a replayed or re-published event is skipped.
    applied: frozenset[str] = frozenset()
    site: Site | None = None  # None until the registry names the site (or after it is removed)
    site_version: int = -1  # offset of `site` in the sites topic: an older record never wins
    published: frozenset[str] = frozenset()  # keys of this site's cells on the public topic
    revision: int = 0  # of the last publication; the next one is higher


def new_record(site_id: str) -> SiteRecord:
    return SiteRecord(site_id, empty_site_state(site_id))


def encode_record(record: SiteRecord) -> bytes:
    site = None if record.site is None else base64.b64encode(site_to_proto(record.site).SerializeToString()).decode()
    document = {
        "schema": RECORD_SCHEMA,
        "site_id": record.site_id,
        "state": state_to_dict(record.state),
        "applied": sorted(record.applied),
        "site": site,
        "site_version": record.site_version,
        "published": sorted(record.published),
        "revision": record.revision,
    }
    return zlib.compress(json.dumps(document, separators=(",", ":"), sort_keys=True).encode(), 6)


def decode_record(data: bytes) -> SiteRecord:
    document = json.loads(zlib.decompress(data))
    if document.get("schema") != RECORD_SCHEMA:
        raise ValueError(f"unsupported site record schema {document.get('schema')!r}")
    site = None
    if document["site"] is not None:
        site = site_from_proto(registry_pb2.Site.FromString(base64.b64decode(document["site"])))
        if isinstance(site, list):
            raise ValueError(f"the stored site of {document['site_id']!r} does not convert: {site}")
    return SiteRecord(
        site_id=document["site_id"],
        state=state_from_dict(document["state"]),
        applied=frozenset(document["applied"]),
        site=site,
        site_version=document["site_version"],
        published=frozenset(document["published"]),
        revision=document["revision"],
    )
