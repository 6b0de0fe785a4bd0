"""Ingest's live view of the site and instrument registries (compacted topics)."""

from __future__ import annotations

import structlog
from aiokafka import ConsumerRecord

from jedi.v1 import registry_pb2
from shared.convert import instrument_from_proto, site_from_proto
from shared.domain.model import Instrument, Site
from shared.topics import Topics

log = structlog.get_logger(__name__)


def instrument_key(instrument_id: str, version: int) -> bytes:
    return f"{instrument_id}:{version}".encode()


class RegistryView:
    """Sites by id and instruments by (id, version), as last published."""

    def __init__(self, topics: Topics) -> None:
        self._sites_topic = topics.sites.name
        self._instruments_topic = topics.instruments.name
        self.topics = (self._sites_topic, self._instruments_topic)
        self.sites: dict[str, Site] = {}
        self.instruments: dict[tuple[str, int], Instrument] = {}

    def apply_record(self, record: ConsumerRecord) -> None:
        if record.topic == self._sites_topic:
            self._apply_site(record)
        elif record.topic == self._instruments_topic:
            self._apply_instrument(record)

    def put_site(self, site: Site) -> None:
        self.sites[site.site_id] = site

    def put_instrument(self, instrument: Instrument) -> None:
        self.instruments[(instrument.instrument_id, instrument.version)] = instrument

    def _apply_site(self, record: ConsumerRecord) -> None:
        site_id = record.key.decode()
        if record.value is None:
            self.sites.pop(site_id, None)
            return
        site = site_from_proto(registry_pb2.Site.FromString(record.value))
        if isinstance(site, list):
            log.error("bad_registry_record", topic=record.topic, key=site_id, errors=len(site))
            return
        self.put_site(site)

    def _apply_instrument(self, record: ConsumerRecord) -> None:
        if record.value is None:
            instrument_id, _, version = record.key.decode().rpartition(":")
            self.instruments.pop((instrument_id, int(version)), None)
            return
        instrument = instrument_from_proto(registry_pb2.Instrument.FromString(record.value))
        if isinstance(instrument, list):
            log.error("bad_registry_record", topic=record.topic, errors=len(instrument))
            return
        self.put_instrument(instrument)
