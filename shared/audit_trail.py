"""The audit trail on Kafka: its records (protos/jedi/v1/audit_trail.proto) to and from the
domain (shared/domain/trail.py), the writer ingest and the query service record with, and the
store the query service keeps of the topic for ListAuditEvents."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord
from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from jedi.v1 import audit_trail_pb2
from shared.auth import Principal
from shared.clock import utc_now
from shared.domain.trail import (
    AuditEntry,
    Detail,
    IsolationFlag,
    QueryCall,
    RegistryChange,
    Submission,
)
from shared.kafka import Kafka, make_producer

log = structlog.get_logger(__name__)


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def entry_to_proto(entry: AuditEntry) -> audit_trail_pb2.AuditEvent:
    message = audit_trail_pb2.AuditEvent(
        audit_id=entry.audit_id,
        time=_timestamp(entry.time),
        principal=entry.principal,
        role=entry.role,
        service=entry.service,
    )
    detail = entry.detail
    if isinstance(detail, Submission):
        message.submission.CopyFrom(
            audit_trail_pb2.SubmissionAudit(
                site_id=detail.site_id,
                waves=detail.waves,
                accepted_count=detail.accepted,
                rejected_count=detail.rejected,
                duplicate_count=detail.duplicates,
                accepted_responses=detail.accepted_responses,
                refusal=detail.refusal,
            )
        )
    elif isinstance(detail, RegistryChange):
        message.registry_change.CopyFrom(
            audit_trail_pb2.RegistryChangeAudit(entity=detail.entity, entity_id=detail.entity_id)
        )
    else:
        message.query.CopyFrom(
            audit_trail_pb2.QueryAudit(
                method=detail.method, site_ids=detail.site_ids, status=detail.status
            )
        )
    return message


def entry_from_proto(message: audit_trail_pb2.AuditEvent) -> AuditEntry:
    kind = message.WhichOneof("detail")
    detail: Detail
    if kind == "submission":
        s = message.submission
        detail = Submission(
            site_id=s.site_id,
            waves=tuple(s.waves),
            accepted=s.accepted_count,
            rejected=s.rejected_count,
            duplicates=s.duplicate_count,
            accepted_responses=s.accepted_responses,
            refusal=s.refusal,
        )
    elif kind == "registry_change":
        detail = RegistryChange(message.registry_change.entity, message.registry_change.entity_id)
    elif kind == "query":
        q = message.query
        detail = QueryCall(q.method, tuple(q.site_ids), q.status)
    else:
        raise ValueError(f"audit record {message.audit_id!r} has no detail")
    return AuditEntry(
        audit_id=message.audit_id,
        time=message.time.ToDatetime(tzinfo=utc_now().tzinfo),
        principal=message.principal,
        role=message.role,
        service=message.service,
        detail=detail,
    )


def flag_to_proto(flag: IsolationFlag) -> audit_trail_pb2.IsolationFlag:
    return audit_trail_pb2.IsolationFlag(
        site_id=flag.site_id,
        principal=flag.principal,
        wave=flag.wave,
        kind=flag.kind.value,
        reason=flag.reason,
        audit_ids=flag.audit_ids,
        first_time=_timestamp(flag.first_time),
        last_time=_timestamp(flag.last_time),
    )


def new_entry(service: str, principal: Principal, detail: Detail) -> AuditEntry:
    return AuditEntry(
        audit_id=str(uuid.uuid4()),
        time=utc_now(),
        principal=principal.key_id,
        role=principal.role.value,
        service=service,
        detail=detail,
    )


AUDIT_WAIT_S = 5.0  # how long a caller's answer waits for its audit record


class AuditTrailWriter:
    """Appends records to the trail with the platform's producer (acks=all, idempotent).

    `record(..., wait=True)` returns once the brokers have the record (ingest: before the
    caller's answer); `wait=False` only queues it (the query service's hot path), and a record
    that fails is logged as `audit_write_failed`. A failure never fails the caller's call: the
    data it concerns is stored already (ingest) or was only read (query), and the log says what
    the trail is missing.
    """

    def __init__(self, kafka: Kafka, topic: str, service: str) -> None:
        self._kafka = kafka
        self._topic = topic
        self.service = service
        self._producer: AIOKafkaProducer | None = None
        self._pending: set[asyncio.Future[object]] = set()

    async def start(self) -> None:
        producer = make_producer(self._kafka)
        try:
            await producer.start()
        except BaseException:  # a failed or cancelled start leaves a client to close
            await producer.stop()
            raise
        self._producer = producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()  # flushes what is queued
            self._producer = None

    async def record(self, principal: Principal, detail: Detail, *, wait: bool) -> AuditEntry:
        entry = new_entry(self.service, principal, detail)
        producer = self._producer
        if producer is None:
            log.error("audit_write_failed", audit_id=entry.audit_id, reason="writer not started")
            return entry
        key = entry.site_ids[0].encode() if entry.site_ids else None
        delivery: asyncio.Future[object] | None = None
        try:
            delivery = await producer.send(
                self._topic, entry_to_proto(entry).SerializeToString(), key=key
            )
            if wait:
                # Bounded: with the broker down a delivery can wait for minutes, and the caller's
                # answer (often an UNAVAILABLE for that same outage) must not wait behind it.
                await asyncio.wait_for(asyncio.shield(delivery), AUDIT_WAIT_S)
            else:
                self._pending.add(delivery)
                delivery.add_done_callback(lambda done: self._delivered(entry, done))
        except TimeoutError as error:
            if delivery is None:  # the send itself timed out
                _failed(entry, error)
                return entry
            self._pending.add(delivery)
            delivery.add_done_callback(lambda done: self._delivered(entry, done))
            _failed(entry, TimeoutError(f"not acknowledged within {AUDIT_WAIT_S} s; still sending"))
        except Exception as error:  # noqa: BLE001 -- logged; the caller's call is not failed
            _failed(entry, error)
        return entry

    def _delivered(self, entry: AuditEntry, delivery: asyncio.Future[object]) -> None:
        self._pending.discard(delivery)
        if not delivery.cancelled() and delivery.exception() is not None:
            _failed(entry, delivery.exception())


def _failed(entry: AuditEntry, error: BaseException | None) -> None:
    log.error(
        "audit_write_failed",
        audit_id=entry.audit_id,
        principal=entry.principal,
        detail=type(entry.detail).__name__,
        error=repr(error),
    )


class AuditTrailStore:
    """The trail as read from its topic, in the order recorded (the query service's copy)."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []
        self.caught_up = asyncio.Event()

    def apply_record(self, record: ConsumerRecord) -> None:
        if record.value is None:
            return
        try:
            self.entries.append(
                entry_from_proto(audit_trail_pb2.AuditEvent.FromString(record.value))
            )
        except (DecodeError, ValueError) as error:
            log.warning("audit_record_unreadable", offset=record.offset, error=str(error))
