"""The IngestService gRPC servicer: protobuf in, the domain core's verdict, Kafka out.

A submission is handled as a whole: a caller may write only its own site (else
PERMISSION_DENIED and nothing is published); each event is then a duplicate, rejected with
its field errors, or published; the reply is sent only once Kafka acknowledged every
accepted event. If Kafka does not, the call fails with UNAVAILABLE: what was stored is
remembered, so the client's retry answers it as a duplicate and publishes the rest. A call
its client abandons (killed, timed out) still finishes storing and remembering what it began.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime

import grpc
import structlog
from opentelemetry import trace

from jedi.v1 import ingest_pb2, ingest_pb2_grpc
from services.ingest import metrics
from services.ingest.ledger import EventLedger
from services.ingest.publisher import EventPublisher, PublishFailed
from services.ingest.registry import RegistryView
from shared.auth import CredentialStore, Principal, PrincipalRole
from shared.clock import utc_now
from shared.convert import (
    field_errors_to_proto,
    instrument_from_proto,
    instrument_to_proto,
    site_from_proto,
    site_to_proto,
    submitted_event_id,
    validated_event_from_proto,
)
from shared.domain.model import InterventionEvent, SurveyResponse
from shared.domain.validation import (
    FieldError,
    validate_incident_transition,
    validate_instrument,
    validate_site,
)
from shared.event_records import EventRecord, event_record
from shared.grpc_support import abort_bad_request, authenticate, trace_context
from shared.registry_records import instrument_key
from shared.topics import Topics

log = structlog.get_logger(__name__)
tracer = trace.get_tracer(__name__)

ACCEPTED = ingest_pb2.EVENT_STATUS_ACCEPTED
DUPLICATE = ingest_pb2.EVENT_STATUS_DUPLICATE
REJECTED = ingest_pb2.EVENT_STATUS_REJECTED


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(
        self,
        *,
        credentials: CredentialStore,
        registry: RegistryView,
        ledger: EventLedger,
        publisher: EventPublisher,
        topics: Topics,
        only_site_id: str | None = None,
        max_events_per_request: int = 5000,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._credentials = credentials
        self._registry = registry
        self._ledger = ledger
        self._publisher = publisher
        self._topics = topics
        self._only_site_id = only_site_id
        self._max_events = max_events_per_request
        self._clock = clock
        # Duplicate and incident-order checks must see every earlier submission's outcome.
        self._submission_lock = asyncio.Lock()
        self._in_flight: set[asyncio.Future] = set()  # submissions that outlive a cancelled call

    async def SubmitEvents(self, request, context):
        principal = await authenticate(context, self._credentials)
        with tracer.start_as_current_span(
            "IngestService/SubmitEvents", context=trace_context(context), kind=trace.SpanKind.SERVER
        ):
            results = await self._submit(list(request.events), principal, context)
        return ingest_pb2.SubmitEventsResponse(results=results, **_counts(results))

    async def StreamEvents(self, request_iterator, context):
        principal = await authenticate(context, self._credentials)
        with tracer.start_as_current_span(
            "IngestService/StreamEvents", context=trace_context(context), kind=trace.SpanKind.SERVER
        ):
            events = []
            async for message in request_iterator:
                events.append(message.event)
                if len(events) > self._max_events * 20:
                    await abort_bad_request(
                        context,
                        "stream too long",
                        [("event", f"at most {self._max_events * 20} events per stream")],
                    )
            results = await self._submit(events, principal, context, limit=self._max_events * 20)
        return ingest_pb2.StreamEventsResponse(results=results, **_counts(results))

    async def PutSite(self, request, context):
        await self._require_coordinator(context)
        site = site_from_proto(request.site)
        errors = site if isinstance(site, list) else validate_site(site)
        if errors:
            await abort_bad_request(context, "invalid site", _violations(errors, "site"))
        await self._publish_registry(
            context, self._topics.sites.name, site.site_id.encode(), site_to_proto(site)
        )
        self._registry.put_site(site)
        log.info("site_registered", site_id=site.site_id)
        return ingest_pb2.PutSiteResponse(site=site_to_proto(site))

    async def PutInstrument(self, request, context):
        await self._require_coordinator(context)
        instrument = instrument_from_proto(request.instrument)
        errors = instrument if isinstance(instrument, list) else validate_instrument(instrument)
        if errors:
            await abort_bad_request(
                context, "invalid instrument", _violations(errors, "instrument")
            )
        key = (instrument.instrument_id, instrument.version)
        existing = self._registry.instruments.get(key)
        if existing is not None and existing != instrument:
            await context.abort(
                grpc.StatusCode.ALREADY_EXISTS,
                f"instrument {key[0]} version {key[1]} is registered with other content; "
                "versions are immutable: register a new version",
            )
        await self._publish_registry(
            context,
            self._topics.instruments.name,
            instrument_key(*key),
            instrument_to_proto(instrument),
        )
        self._registry.put_instrument(instrument)
        log.info("instrument_registered", instrument_id=key[0], version=key[1])
        return ingest_pb2.PutInstrumentResponse(instrument=instrument_to_proto(instrument))

    async def GetInstrument(self, request, context):
        await authenticate(context, self._credentials)
        instrument_id, version = request.instrument_id, request.version
        if not instrument_id:
            await abort_bad_request(context, "no instrument", [("instrument_id", "is required")])
        registered = sorted(
            v for (known, v) in self._registry.instruments if known == instrument_id
        )
        if version == 0 and registered:
            version = registered[-1]
        instrument = self._registry.instruments.get((instrument_id, version))
        if instrument is None:
            known = (
                f"registered versions: {', '.join(map(str, registered))}"
                if registered
                else "not registered"
            )
            await context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"instrument {instrument_id!r}"
                + (f" version {version}" if request.version else "")
                + f": {known}",
            )
        return ingest_pb2.GetInstrumentResponse(instrument=instrument_to_proto(instrument))

    async def ListInstruments(self, request, context):
        await authenticate(context, self._credentials)
        instruments = [
            self._registry.instruments[key] for key in sorted(self._registry.instruments)
        ]
        return ingest_pb2.ListInstrumentsResponse(
            instruments=[instrument_to_proto(i) for i in instruments]
        )

    async def _submit(
        self, events: Sequence, principal: Principal, context, *, limit: int | None = None
    ):
        limit = limit or self._max_events
        if not events:
            await abort_bad_request(
                context, "no events", [("events", "must hold at least one event")]
            )
        if len(events) > limit:
            await abort_bad_request(
                context,
                "too many events",
                [("events", f"at most {limit} events per call, got {len(events)}")],
            )
        await self._check_site_permission(events, principal, context)
        # Shielded: a client that goes away mid-call (killed, timed out) cancels this handler,
        # but what Kafka stores must still reach the ledger, and under the lock, or the
        # client's retry would publish the same events a second time.
        judging = asyncio.ensure_future(self._judge_and_publish(events, context))
        self._in_flight.add(judging)
        judging.add_done_callback(self._in_flight.discard)
        results = await asyncio.shield(judging)
        for result in results:
            kind = events[result.index].WhichOneof("payload") or "none"
            metrics.EVENTS.labels(
                kind, ingest_pb2.EventStatus.Name(result.status)[13:].lower()
            ).inc()
            for error in result.errors:
                metrics.REJECTIONS.labels(re.sub(r"\[.*?\]", "", error.field)).inc()
        return results

    async def _check_site_permission(self, events: Sequence, principal: Principal, context) -> None:
        for index, message in enumerate(events):
            kind = message.WhichOneof("payload")
            site_id = getattr(message, kind).site_id if kind else ""
            if not site_id:
                continue  # rejected with a field error by validation
            if self._only_site_id is not None and site_id != self._only_site_id:
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"event {index} is for site {site_id!r}; this ingest serves only {self._only_site_id!r}",
                )
            if not principal.may_write(site_id):
                await context.abort(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"event {index} is for site {site_id!r}; credential {principal.key_id!r} "
                    f"may write only site {principal.site_id!r}. Nothing was published.",
                )

    async def _judge_and_publish(self, events: Sequence, context) -> list:
        async with self._submission_lock:
            results, accepted = self._judge(events)
            await self._publish_events(accepted, context)
        return results

    def _judge(self, events: Sequence):
        """Each event's result, and the valid new events to publish (index, domain event)."""
        now = self._clock()
        results = []
        accepted: list[tuple[int, InterventionEvent | SurveyResponse]] = []
        seen_in_batch: set[str] = set()
        incident_overlay = {}
        for index, message in enumerate(events):
            event_id = submitted_event_id(message)
            if event_id and (self._ledger.knows(event_id) or event_id in seen_in_batch):
                results.append(
                    ingest_pb2.EventResult(event_id=event_id, status=DUPLICATE, index=index)
                )
                continue
            event = validated_event_from_proto(message, self._registry.instruments, now=now)
            errors = (
                event
                if isinstance(event, list)
                else self._check_against_history(event, incident_overlay)
            )
            if errors:
                results.append(
                    ingest_pb2.EventResult(
                        event_id=event_id,
                        status=REJECTED,
                        index=index,
                        errors=field_errors_to_proto(errors),
                    )
                )
                continue
            seen_in_batch.add(event_id)
            accepted.append((index, event))
            results.append(ingest_pb2.EventResult(event_id=event_id, status=ACCEPTED, index=index))
        return results, accepted

    def _check_against_history(self, event, incident_overlay: dict) -> list[FieldError]:
        kind = "intervention" if isinstance(event, InterventionEvent) else "survey_response"
        if event.site_id not in self._registry.sites:
            return [
                FieldError(
                    f"{kind}.site_id",
                    f"unknown site {event.site_id!r}: it must be registered first",
                )
            ]
        if not isinstance(event, InterventionEvent) or not hasattr(event.detail, "incident_id"):
            return []
        key = (event.site_id, event.detail.incident_id)
        previous = incident_overlay.get(key) or self._ledger.incident_times(*key)
        errors = validate_incident_transition(previous, event)
        if not errors:
            incident_overlay[key] = previous.after(event)
        return errors

    async def _publish_events(self, accepted, context) -> None:
        if not accepted:
            return
        records = [event_record(self._topics, event) for _, event in accepted]
        started = time.perf_counter()
        try:
            stored = await self._publisher.publish(records)
        except PublishFailed as error:
            log.warning("publish_unavailable", error=str(error))
            stored = [False] * len(records)
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
        for (_, event), ok in zip(accepted, stored):
            if ok:
                self._ledger.record(event)
        if not all(stored):
            missing = stored.count(False)
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"Kafka did not confirm {missing} of {len(stored)} valid events; they were not stored. "
                "Resubmit the same events: those stored come back as duplicates.",
            )

    async def _publish_registry(self, context, topic: str, key: bytes, message) -> None:
        try:
            stored = await self._publisher.publish(
                [
                    EventRecord(
                        topic=topic, key=key, value=message.SerializeToString(), event_id=""
                    )
                ]  # no event id
            )
        except PublishFailed:
            stored = [False]
        if not all(stored):
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, "Kafka did not confirm the registry update; retry"
            )

    async def _require_coordinator(self, context) -> Principal:
        principal = await authenticate(context, self._credentials)
        if principal.role is not PrincipalRole.COORDINATOR:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, "only a coordinator may change the registry"
            )
        return principal


def _counts(results) -> dict[str, int]:
    statuses = [result.status for result in results]
    return {
        "accepted_count": statuses.count(ACCEPTED),
        "duplicate_count": statuses.count(DUPLICATE),
        "rejected_count": statuses.count(REJECTED),
    }


def _violations(errors: list[FieldError], prefix: str) -> list[tuple[str, str]]:
    return [
        (error.field if error.field.startswith(prefix) else f"{prefix}.{error.field}", error.reason)
        for error in errors
    ]
