"""Ingest's live view of the site, instrument and survey cycle registries (compacted topics)."""

from __future__ import annotations

import structlog
from aiokafka import ConsumerRecord

from shared.domain.cycles import SurveyCycle
from shared.domain.model import Instrument, Site
from shared.registry_records import (
    Removed,
    Unreadable,
    decode_cycle_record,
    decode_instrument_record,
    decode_site_record,
)
from shared.topics import Topics

log = structlog.get_logger(__name__)


class RegistryView:
    """Sites by id, instruments by (id, version) and survey cycles by id, as last published."""

    def __init__(self, topics: Topics) -> None:
        self._sites_topic = topics.sites.name
        self._instruments_topic = topics.instruments.name
        self._cycles_topic = topics.cycles.name
        self.topics = (self._sites_topic, self._instruments_topic, self._cycles_topic)
        self.sites: dict[str, Site] = {}
        self.instruments: dict[tuple[str, int], Instrument] = {}
        self.cycles: dict[str, SurveyCycle] = {}

    def apply_record(self, record: ConsumerRecord) -> None:
        if record.topic == self._sites_topic:
            self._apply_site(record)
        elif record.topic == self._instruments_topic:
            self._apply_instrument(record)
        elif record.topic == self._cycles_topic:
            self._apply_cycle(record)

    def put_site(self, site: Site) -> None:
        self.sites[site.site_id] = site

    def put_instrument(self, instrument: Instrument) -> None:
        self.instruments[(instrument.instrument_id, instrument.version)] = instrument

    def put_cycle(self, cycle: SurveyCycle) -> None:
        self.cycles[cycle.cycle_id] = cycle

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

    def _apply_cycle(self, record: ConsumerRecord) -> None:
        match decode_cycle_record(record.key, record.value):
            case Removed(cycle_id):
                self.cycles.pop(cycle_id, None)
            case Unreadable(reason):
                log.error("bad_registry_record", topic=record.topic, key=record.key, reason=reason)
            case cycle:
                self.put_cycle(cycle)
