"""Ingest's live view of the site and instrument registries (compacted topics)."""

from __future__ import annotations

import structlog
from aiokafka import ConsumerRecord

from shared.domain.model import Instrument, Site
from shared.registry_records import (
    Removed,
    Unreadable,
    decode_instrument_record,
    decode_site_record,
)
from shared.topics import Topics

log = structlog.get_logger(__name__)


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
        match decode_site_record(record.key, record.value):
            case Removed(site_id):
                self.sites.pop(site_id, None)
            case Unreadable(reason):
                log.error("bad_registry_record", topic=record.topic, key=record.key, reason=reason)
            case site:
                self.put_site(site)

    def _apply_instrument(self, record: ConsumerRecord) -> None:
        match decode_instrument_record(record.key, record.value):
            case Removed(key):
                self.instruments.pop(key, None)
            case Unreadable(reason):
                log.error("bad_registry_record", topic=record.topic, key=record.key, reason=reason)
            case instrument:
                self.put_instrument(instrument)
