"""How the site, instrument and survey cycle registries are stored on Kafka, and read back.

All are compacted topics. Ingest writes them (PutSite, PutInstrument, PutCycle); ingest and
the processor follow them (the processor not the cycles, yet). A site's key is its id, an
instrument version's key is `<instrument_id>:<version>`, a cycle's key is its id, and the
value is the `jedi.v1.Site`, `jedi.v1.Instrument` or `jedi.v1.SurveyCycle` message. A record
without a value (a tombstone) removes what its key names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf.message import DecodeError

from jedi.v1 import registry_pb2
from shared.convert import instrument_from_proto, site_from_proto
from shared.convert_cycles import cycle_from_proto, validated_cycle_errors
from shared.domain.cycles import SurveyCycle
from shared.domain.model import Instrument, Site

__all__ = [
    "InstrumentVersion",
    "Removed",
    "Unreadable",
    "cycle_key",
    "decode_cycle_record",
    "decode_instrument_record",
    "decode_site_record",
    "instrument_key",
    "site_key",
]

InstrumentVersion = tuple[str, int]
"""(instrument_id, version): what an instrument record's key names."""

K = TypeVar("K")


@dataclass(frozen=True)
class Removed(Generic[K]):
    """A tombstone: the registry no longer holds what `key` names."""

    key: K


@dataclass(frozen=True)
class Unreadable:
    """A record that is no registry entry; `reason` is for the log."""

    reason: str


def site_key(site_id: str) -> bytes:
    return site_id.encode()


def instrument_key(instrument_id: str, version: int) -> bytes:
    return f"{instrument_id}:{version}".encode()


def cycle_key(cycle_id: str) -> bytes:
    return cycle_id.encode()


def decode_site_record(key: bytes | None, value: bytes | None) -> Site | Removed[str] | Unreadable:
    if value is None:
        if not key:
            return Unreadable("a tombstone without a key")
        return Removed(key.decode(errors="replace"))
    try:
        site = site_from_proto(registry_pb2.Site.FromString(value))
    except DecodeError as error:
        return Unreadable(f"not a jedi.v1.Site: {error}")
    if isinstance(site, list):
        return Unreadable("; ".join(f"{e.field}: {e.reason}" for e in site))
    return site


def decode_instrument_record(
    key: bytes | None, value: bytes | None
) -> Instrument | Removed[InstrumentVersion] | Unreadable:
    if value is None:
        instrument_id, _, version = (key or b"").decode(errors="replace").rpartition(":")
        if not version.isdigit():
            return Unreadable(f"a tombstone whose key {key!r} names no instrument version")
        return Removed((instrument_id, int(version)))
    try:
        instrument = instrument_from_proto(registry_pb2.Instrument.FromString(value))
    except DecodeError as error:
        return Unreadable(f"not a jedi.v1.Instrument: {error}")
    if isinstance(instrument, list):
        return Unreadable("; ".join(f"{e.field}: {e.reason}" for e in instrument))
    return instrument


def decode_cycle_record(
    key: bytes | None, value: bytes | None
) -> SurveyCycle | Removed[str] | Unreadable:
    """A cycle as registered, judged on its own fields (the registry it was checked against
    when it was written may have changed since: that is not the reader's to judge)."""
    if value is None:
        if not key:
            return Unreadable("a tombstone without a key")
        return Removed(key.decode(errors="replace"))
    try:
        cycle, errors = cycle_from_proto(registry_pb2.SurveyCycle.FromString(value))
    except DecodeError as error:
        return Unreadable(f"not a jedi.v1.SurveyCycle: {error}")
    if errors := validated_cycle_errors(cycle, errors):
        return Unreadable("; ".join(f"{e.field}: {e.reason}" for e in errors))
    return cycle
