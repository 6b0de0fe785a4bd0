"""Registering sites, instruments and survey cycles: validate, publish to the compacted topic,
then serve it.

Only a coordinator changes the registry. An instrument version is immutable: registering the
same version again is accepted only with the same content. A cycle, like a site, is created or
replaced; it must name registered sites and a registered instrument version. A site reads only
the cycles it takes part in, and sees no other site in them.
"""

from __future__ import annotations

from dataclasses import replace

from google.protobuf.message import Message

from services.ingest.ports import PublishFailed, RecordPublisher, Registry
from services.ingest.submission import NotStored
from shared.auth import Principal, PrincipalRole
from shared.convert import instrument_to_proto, site_to_proto
from shared.convert_cycles import cycle_to_proto, validated_cycle_errors
from shared.domain.cycles import SurveyCycle
from shared.domain.model import Instrument, Site
from shared.domain.validation import FieldError, validate_instrument, validate_site
from shared.event_records import EventRecord
from shared.registry_records import cycle_key, instrument_key
from shared.topics import Topics


class NotACoordinator(Exception):
    """Only a coordinator may change the registry."""


class InvalidEntry(Exception):
    """The site, instrument or cycle is invalid; `errors` says why, field by field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(f"{len(errors)} invalid fields")
        self.errors = errors


class InstrumentConflict(Exception):
    """This instrument version is registered with other content."""


class UnknownInstrument(Exception):
    """No such instrument, or no such version of it."""


class UnknownCycle(Exception):
    """No such cycle, or none the caller may read."""


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

    async def put_cycle(
        self,
        principal: Principal,
        cycle: SurveyCycle,
        conversion_errors: list[FieldError] | None = None,
    ) -> SurveyCycle:
        """Registers the cycle once Kafka has confirmed it; refuses it with every error at once
        (`conversion_errors`: what of the request did not convert into `cycle`)."""
        _require_coordinator(principal)
        errors = validated_cycle_errors(
            cycle,
            conversion_errors or [],
            sites=self._registry.sites.keys(),
            instruments=self._registry.instruments.keys(),
        )
        if errors:
            raise InvalidEntry(errors)
        await self._publish(
            self._topics.cycles.name, cycle_key(cycle.cycle_id), cycle_to_proto(cycle)
        )
        self._registry.put_cycle(cycle)
        return cycle

    def cycle(self, principal: Principal, cycle_id: str) -> SurveyCycle:
        """The cycle as the caller may see it (a site: only one it takes part in)."""
        cycle = self._registry.cycles.get(cycle_id)
        seen = _as_seen_by(principal, cycle) if cycle is not None else None
        if seen is None:
            raise UnknownCycle(f"cycle {cycle_id!r} is not registered")
        return seen

    def cycles(self, principal: Principal) -> list[SurveyCycle]:
        """The cycles the caller may see, by opens_at then cycle_id."""
        seen = (_as_seen_by(principal, c) for c in self._registry.cycles.values())
        return sorted((c for c in seen if c is not None), key=lambda c: (c.opens_at, c.cycle_id))

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


def _as_seen_by(principal: Principal, cycle: SurveyCycle) -> SurveyCycle | None:
    """A coordinator sees the whole cycle; a site only a cycle it takes part in, naming itself
    alone among the sites (its peers are never named to it); anyone else, nothing."""
    if principal.role is PrincipalRole.COORDINATOR:
        return cycle
    site_id = principal.site_id
    if site_id is None or not cycle.takes_part(site_id):
        return None
    return replace(cycle, site_ids=(site_id,))
