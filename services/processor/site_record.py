"""A site's record (`shared.domain.publication.site_record`) as the processor's table keeps it.

One value, one changelog record. Encoded as zlib-compressed JSON (state_codec keeps it exact); sorted, so equal records encode
to equal bytes.

The JSON is written piece by piece, byte for byte what `json.dumps(document, sort_keys=True,
separators=(",", ":"))` of the record's document (`record_document`) gives, but the text of the
parts a batch leaves alone (a tally of a cell no event of the batch counted in, the earlier
releases, the intervention state, the registry record) is kept from the site's last encoding,
by object: all of them are immutable, and a batch's fold shares the ones it did not change
(`SurveyFold.freeze`). So a batch encodes only what it changed, not the whole state again.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from jedi.v1 import registry_pb2
from shared.convert import site_from_proto, site_to_proto
from shared.domain.aggregates import STATE_SCHEMA, SiteState, state_from_dict, state_to_dict
from shared.domain.intervention_state import InterventionState
from shared.domain.model import Site
from shared.domain.publication.site_record import SiteRecord
from shared.domain.published import PublishedRelease, published_from_dict, published_to_dict
from shared.domain.state_codec import interventions_to_dict
from shared.domain.survey_state import (
    CompositeKey,
    CompositeTally,
    ResponseKey,
    ResponseTally,
    SurveyState,
)

RECORD_SCHEMA = 3
READABLE_SCHEMAS = (2, 3)  # 2: before calendar releases (no history, no slot)
# Sites whose parts are kept (about the JSON text of the site's state once each): as many as the
# site driver keeps decoded records of (`site_driver.RECORD_CACHE_SITES`).
FRAGMENT_SITES = 256

_T = TypeVar("_T")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def record_document(record: SiteRecord) -> dict[str, Any]:
    """The record as the JSON document its table value holds (what `encode_record` writes)."""
    return {
        "schema": RECORD_SCHEMA,
        "site_id": record.site_id,
        "state": state_to_dict(record.state),
        "applied": sorted(record.applied),
        "site": _site_text(record.site),
        "site_version": record.site_version,
        "interventions": record.interventions,
        "released": None if record.released is None else state_to_dict(record.released),
        "released_interventions": record.released_interventions,
        "release_number": record.release_number,
        "release_cut_at": _time(record.release_cut_at),
        "release_digest": record.release_digest,
        "held_back_digest": record.held_back_digest,
        "considered_slot": _time(record.considered_slot),
        "history": [published_to_dict(release) for release in record.history],
    }


def _site_text(site: Site | None) -> str | None:
    return (
        None if site is None else base64.b64encode(site_to_proto(site).SerializeToString()).decode()
    )


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


class _Quoted(dict[str, str]):
    """JSON string literals of the names a state repeats (items, dimensions, groups, waves)."""

    def __missing__(self, text: str) -> str:
        if len(self) >= 65536:
            self.clear()
        quoted = self[text] = json.dumps(text)
        return quoted


_quoted = _Quoted()


def _composite_row(key: CompositeKey, tally: CompositeTally) -> str:
    """`survey_to_dict`'s row of one composite tally, as JSON."""
    wave, composite, dimension, group = key
    q = _quoted
    items = ",".join(
        f"{q[code]}:[{int(item.answered)},{int(item.positive)}]"
        for code, item in sorted(tally.items.items())
    )
    totals = ",".join(
        f"[{int(m)},{int(t.total)},{int(t.square_total)}]" for m, t in sorted(tally.totals.items())
    )
    return (
        f'{{"composite":{q[composite.value]},"dimension":{q[dimension]},"group":{q[group]},'
        f'"items":{{{items}}},"respondents":{int(tally.respondents)},"totals":[{totals}],'
        f'"wave":{q[wave.value]}}}'
    )


def _response_row(key: ResponseKey, tally: ResponseTally) -> str:
    wave, dimension, group = key
    q = _quoted
    return (
        f'{{"dimension":{q[dimension]},"experienced_answered":{int(tally.experienced_answered)},'
        f'"experienced_yes":{int(tally.experienced_yes)},"group":{q[group]},'
        f'"responses":{int(tally.responses)},"wave":{q[wave.value]},'
        f'"witnessed_answered":{int(tally.witnessed_answered)},'
        f'"witnessed_yes":{int(tally.witnessed_yes)}}}'
    )


class _Parts:
    """The JSON text of the parts of one site's records, by object, from its last encoding and
    the one under way (`begin` moves on: what the last one did not use is forgotten)."""

    __slots__ = ("orders", "texts", "used")

    def __init__(self) -> None:
        self.texts: dict[int, tuple[object, str]] = {}  # of the last encoding
        self.used: dict[int, tuple[object, str]] = {}  # of the one under way
        self.orders: list[list[Any]] = []  # sorted keys of the tallies of states lately encoded

    def begin(self) -> None:
        if self.used:
            self.texts, self.used = self.used, {}

    def text(self, part: _T, write: Callable[[_T], str]) -> str:
        found = self.used.get(id(part))
        if found is None or found[0] is not part:
            found = self.texts.get(id(part))
            if found is None or found[0] is not part:
                found = (part, write(part))
            self.used[id(part)] = found
        return found[1]

    def rows(self, tallies: Mapping[Any, _T], write: Callable[[Any, _T], str]) -> str:
        """The rows of `tallies` in key order, each from its text kept if the tally is."""
        texts, used = self.texts, self.used
        pieces = []
        for key in self._order(tallies):
            tally = tallies[key]
            found = used.get(id(tally))
            if found is None or found[0] is not tally:
                found = texts.get(id(tally))
                if found is None or found[0] is not tally:
                    found = (tally, write(key, tally))
                used[id(tally)] = found
            pieces.append(found[1])
        return ",".join(pieces)

    def _order(self, tallies: Mapping[Any, object]) -> list[Any]:
        # A site's cells only ever gain tallies: the keys of a state lately encoded are those of
        # this one if there are as many and all of them are in it.
        for order in self.orders:
            if len(order) == len(tallies) and all(key in tallies for key in order):
                return order
        order = sorted(tallies)
        self.orders = [order, *self.orders[:3]]
        return order


class _Fragments:
    def __init__(self, capacity: int = FRAGMENT_SITES) -> None:
        self._capacity = capacity
        self._sites: OrderedDict[str, _Parts] = OrderedDict()

    def of(self, site_id: str) -> _Parts:
        parts = self._sites.pop(site_id, None)
        if parts is None:
            parts = _Parts()
        self._sites[site_id] = parts
        while len(self._sites) > self._capacity:
            self._sites.popitem(last=False)
        return parts


_fragments = _Fragments()


def _survey_text(parts: _Parts, survey: SurveyState) -> str:
    composites = parts.rows(survey.composites, _composite_row)
    responses = parts.rows(survey.responses, _response_row)
    return f'{{"composites":[{composites}],"responses":[{responses}]}}'


def _interventions_text(state: InterventionState) -> str:
    return _dumps(interventions_to_dict(state))


def _release_text(release: PublishedRelease) -> str:
    return _dumps(published_to_dict(release))


def _state_text(parts: _Parts, state: SiteState) -> str:
    """`state_to_dict(state)` as JSON."""
    interventions = parts.text(state.interventions, _interventions_text)
    return (
        f'{{"interventions":{interventions},"schema":{STATE_SCHEMA},'
        f'"site_id":{json.dumps(state.site_id)},"survey":{_survey_text(parts, state.survey)}}}'
    )


def _record_text(record: SiteRecord) -> str:
    parts = _fragments.of(record.site_id)
    parts.begin()
    site = (
        "null" if record.site is None else parts.text(record.site, lambda s: _dumps(_site_text(s)))
    )
    history = ",".join(parts.text(release, _release_text) for release in record.history)
    released = "null" if record.released is None else _state_text(parts, record.released)
    # The document's keys in sorted order, as json.dumps(sort_keys=True) writes them.
    return (
        f'{{"applied":{_dumps(sorted(record.applied))},'
        f'"considered_slot":{_dumps(_time(record.considered_slot))},'
        f'"held_back_digest":{_dumps(record.held_back_digest)},'
        f'"history":[{history}],'
        f'"interventions":{_dumps(record.interventions)},'
        f'"release_cut_at":{_dumps(_time(record.release_cut_at))},'
        f'"release_digest":{_dumps(record.release_digest)},'
        f'"release_number":{_dumps(record.release_number)},'
        f'"released":{released},'
        f'"released_interventions":{_dumps(record.released_interventions)},'
        f'"schema":{RECORD_SCHEMA},'
        f'"site":{site},'
        f'"site_id":{_dumps(record.site_id)},'
        f'"site_version":{_dumps(record.site_version)},'
        f'"state":{_state_text(parts, record.state)}}}'
    )


# zlib's fastest level: a quarter of level 6's time for about a third more bytes (a site of 120
# responses: 0.3 ms and 13.7 kB against 1.3 ms and 10.4 kB). Any level decodes the same.
COMPRESSION_LEVEL = 1


def encode_record(record: SiteRecord) -> bytes:
    return zlib.compress(_record_text(record).encode(), COMPRESSION_LEVEL)


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
