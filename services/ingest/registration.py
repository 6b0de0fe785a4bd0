"""Registering sites and instruments: validate, publish to the compacted topic, then serve it.

Only a coordinator changes the registry. An instrument version is immutable: registering the
same version again is accepted only with the same content.
"""

from __future__ import annotations

from google.protobuf.message import Message

from services.ingest.ports import PublishFailed, RecordPublisher, Registry
from services.ingest.submission import NotStored
from shared.auth import Principal, PrincipalRole
from shared.convert import instrument_to_proto, site_to_proto
from shared.domain.model import Instrument, Site
from shared.domain.validation import FieldError, validate_instrument, validate_site
from shared.event_records import EventRecord
from shared.registry_records import instrument_key
from shared.topics import Topics


class NotACoordinator(Exception):
    """Only a coordinator may change the registry."""


class InvalidEntry(Exception):
    """The site or instrument is invalid; `errors` says why, field by field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} invalid fields")
        self.errors = errors


class InstrumentConflict(Exception):
    """This instrument version is registered with other content."""


class UnknownInstrument(Exception):
    """No such instrument, or no such version of it."""


class Registration:
    def __init__(self, *, registry: Registry, publisher: RecordPublisher, topics: Topics) -> None:
        self._registry = registry
        self._publisher = publisher
        self._topics = topics

    async def put_site(self, principal: Principal, site: Site | list[FieldError]) -> Site:
        _require_coordinator(principal)
        errors = site if isinstance(site, list) else validate_site(site)
        if errors or isinstance(site, list):
            raise InvalidEntry(errors)
        await self._publish(self._topics.sites.name, site.site_id.encode(), site_to_proto(site))
        self._registry.put_site(site)
        return site

    async def put_instrument(
        self, principal: Principal, instrument: Instrument | list[FieldError]
    ) -> Instrument:
        _require_coordinator(principal)
        errors = instrument if isinstance(instrument, list) else validate_instrument(instrument)
        if errors or isinstance(instrument, list):
            raise InvalidEntry(errors)
        key = (instrument.instrument_id, instrument.version)
        existing = self._registry.instruments.get(key)
        if existing is not None and existing != instrument:
            raise InstrumentConflict(
                f"instrument {key[0]} version {key[1]} is registered with other content; "
                "versions are immutable: register a new version"
            )
        await self._publish(
            self._topics.instruments.name, instrument_key(*key), instrument_to_proto(instrument)
        )
        self._registry.put_instrument(instrument)
        return instrument

    def instrument(self, instrument_id: str, version: int = 0) -> Instrument:
        """That version of the instrument; its latest for version 0."""
        registered = sorted(
            v for (known, v) in self._registry.instruments if known == instrument_id
        )
        wanted = registered[-1] if version == 0 and registered else version
        instrument = self._registry.instruments.get((instrument_id, wanted))
        if instrument is None:
            known = (
                f"registered versions: {', '.join(map(str, registered))}"
                if registered
                else "not registered"
            )
            asked = f" version {version}" if version else ""
            raise UnknownInstrument(f"instrument {instrument_id!r}{asked}: {known}")
        return instrument

    def instruments(self) -> list[Instrument]:
        """Every registered instrument, by id and version."""
        return [self._registry.instruments[key] for key in sorted(self._registry.instruments)]

    async def _publish(self, topic: str, key: bytes, message: Message) -> None:
        record = EventRecord(topic=topic, key=key, value=message.SerializeToString(), event_id="")
        try:
            stored = await self._publisher.publish([record])
        except PublishFailed:
            stored = [False]
        if not all(stored):
            raise NotStored("Kafka did not confirm the registry update; retry")


def _require_coordinator(principal: Principal) -> None:
    if principal.role is not PrincipalRole.COORDINATOR:
        raise NotACoordinator("only a coordinator may change the registry")
