"""The IngestService gRPC servicer: protobuf in, a use case's answer, protobuf out.

It checks the request's shape, turns each message into its domain value, hands that to the
submission or registration use case, and turns the outcome, or the refusal, into the reply or
a gRPC status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any, NoReturn, TypeAlias

import grpc
import structlog

from jedi.v1 import ingest_pb2, ingest_pb2_grpc
from services.ingest import metrics
from services.ingest.ports import Registry
from services.ingest.registration import (
    InstrumentConflict,
    InvalidEntry,
    NotACoordinator,
    Registration,
    UnknownCycle,
    UnknownInstrument,
)
from services.ingest.submission import (
    Candidate,
    EventSubmissions,
    NotStored,
    Outcome,
    Verdict,
    WriteRefused,
)
from services.ingest.trail import submission_audits
from shared.audit_trail import AuditTrailWriter
from shared.auth import CredentialStore, Principal
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
from shared.convert_cycles import cycle_from_proto, cycle_to_proto
from shared.domain.trail import RegistryChange, Submission
from shared.domain.validation import FieldError
from shared.grpc_support import abort_bad_request, authenticate

log = structlog.get_logger(__name__)
Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]

_STATUS = {
    Outcome.ACCEPTED: ingest_pb2.EVENT_STATUS_ACCEPTED,
    Outcome.DUPLICATE: ingest_pb2.EVENT_STATUS_DUPLICATE,
    Outcome.REJECTED: ingest_pb2.EVENT_STATUS_REJECTED,
    Outcome.CHANGED: ingest_pb2.EVENT_STATUS_CHANGED,
}
STREAM_FACTOR = 20  # a stream may carry this many times a call's events


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(
        self,
        *,
        credentials: CredentialStore,
        registry: Registry,
        submissions: EventSubmissions,
        registration: Registration,
        max_events_per_request: int = 5000,
        clock: Callable[[], datetime] = utc_now,
        trail: AuditTrailWriter | None = None,
    ) -> None:
        self._credentials = credentials
        self._registry = registry
        self._submissions = submissions
        self._registration = registration
        self._max_events = max_events_per_request
        self._clock = clock
        self._trail = trail

    async def SubmitEvents(
        self, request: ingest_pb2.SubmitEventsRequest, context: Context
    ) -> ingest_pb2.SubmitEventsResponse:
        principal = await authenticate(context, self._credentials)
        results = await self._submit(
            list(request.events),
            principal,
            context,
            self._max_events,
            validate_only=request.validate_only,
        )
        return ingest_pb2.SubmitEventsResponse(results=results, **_counts(results))

    async def StreamEvents(
        self,
        request_iterator: AsyncIterator[ingest_pb2.StreamEventsRequest],
        context: Context,
    ) -> ingest_pb2.StreamEventsResponse:
        principal = await authenticate(context, self._credentials)
        limit = self._max_events * STREAM_FACTOR
        events = []
        validate_only: bool | None = None  # the first message decides
        async for message in request_iterator:
            if validate_only is None:
                validate_only = message.validate_only
            events.append(message.event)
            if len(events) > limit:
                await abort_bad_request(
                    context, "stream too long", [("event", f"at most {limit} events per stream")]
                )
        results = await self._submit(
            events, principal, context, limit, validate_only=bool(validate_only)
        )
        return ingest_pb2.StreamEventsResponse(results=results, **_counts(results))

    async def PutSite(
        self, request: ingest_pb2.PutSiteRequest, context: Context
    ) -> ingest_pb2.PutSiteResponse:
        principal = await authenticate(context, self._credentials)
        try:
            site = await self._registration.put_site(principal, site_from_proto(request.site))
        except (NotACoordinator, InvalidEntry, NotStored) as refusal:
            await _abort(context, refusal, "site")
        log.info("site_registered", site_id=site.site_id)
        await self._audit(principal, RegistryChange("site", site.site_id))
        return ingest_pb2.PutSiteResponse(site=site_to_proto(site))

    async def PutInstrument(
        self, request: ingest_pb2.PutInstrumentRequest, context: Context
    ) -> ingest_pb2.PutInstrumentResponse:
        principal = await authenticate(context, self._credentials)
        try:
            instrument = await self._registration.put_instrument(
                principal, instrument_from_proto(request.instrument)
            )
        except (NotACoordinator, InvalidEntry, NotStored, InstrumentConflict) as refusal:
            await _abort(context, refusal, "instrument")
        log.info(
            "instrument_registered",
            instrument_id=instrument.instrument_id,
            version=instrument.version,
        )
        await self._audit(
            principal,
            RegistryChange("instrument", f"{instrument.instrument_id}@{instrument.version}"),
        )
        return ingest_pb2.PutInstrumentResponse(instrument=instrument_to_proto(instrument))

    async def GetInstrument(
        self, request: ingest_pb2.GetInstrumentRequest, context: Context
    ) -> ingest_pb2.GetInstrumentResponse:
        await authenticate(context, self._credentials)
        if not request.instrument_id:
            await abort_bad_request(context, "no instrument", [("instrument_id", "is required")])
        try:
            instrument = self._registration.instrument(request.instrument_id, request.version)
        except UnknownInstrument as refusal:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(refusal))
        return ingest_pb2.GetInstrumentResponse(instrument=instrument_to_proto(instrument))

    async def ListInstruments(
        self, request: ingest_pb2.ListInstrumentsRequest, context: Context
    ) -> ingest_pb2.ListInstrumentsResponse:
        await authenticate(context, self._credentials)
        return ingest_pb2.ListInstrumentsResponse(
            instruments=[instrument_to_proto(i) for i in self._registration.instruments()]
        )

    async def PutCycle(
        self, request: ingest_pb2.PutCycleRequest, context: Context
    ) -> ingest_pb2.PutCycleResponse:
        principal = await authenticate(context, self._credentials)
        converted, conversion_errors = cycle_from_proto(request.cycle)
        try:
            cycle = await self._registration.put_cycle(principal, converted, conversion_errors)
        except (NotACoordinator, InvalidEntry, NotStored) as refusal:
            await _abort(context, refusal, "cycle")
        log.info("cycle_registered", cycle_id=cycle.cycle_id, sites=len(cycle.site_ids))
        await self._audit(principal, RegistryChange("cycle", cycle.cycle_id))
        return ingest_pb2.PutCycleResponse(cycle=cycle_to_proto(cycle))

    async def GetCycle(
        self, request: ingest_pb2.GetCycleRequest, context: Context
    ) -> ingest_pb2.GetCycleResponse:
        principal = await authenticate(context, self._credentials)
        if not request.cycle_id:
            await abort_bad_request(context, "no cycle", [("cycle_id", "is required")])
        try:
            cycle = self._registration.cycle(principal, request.cycle_id)
        except UnknownCycle as refusal:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(refusal))
        return ingest_pb2.GetCycleResponse(cycle=cycle_to_proto(cycle))

    async def ListCycles(
        self, request: ingest_pb2.ListCyclesRequest, context: Context
    ) -> ingest_pb2.ListCyclesResponse:
        principal = await authenticate(context, self._credentials)
        return ingest_pb2.ListCyclesResponse(
            cycles=[cycle_to_proto(c) for c in self._registration.cycles(principal)]
        )

    async def _submit(
        self,
        events: Sequence[ingest_pb2.Event],
        principal: Principal,
        context: Context,
        limit: int,
        *,
        validate_only: bool = False,
    ) -> list[ingest_pb2.EventResult]:
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
        now = self._clock()
        instruments = self._registry.instruments
        cycles = self._registry.cycles
        candidates = [
            Candidate(
                event_id=submitted_event_id(message),
                site_id=_claimed_site_id(message),
                decoded=validated_event_from_proto(message, instruments, now=now, cycles=cycles),
            )
            for message in events
        ]
        try:
            verdicts = await self._submissions.submit(
                principal, candidates, validate_only=validate_only
            )
        except WriteRefused as refusal:
            await self._audit_submission(principal, candidates, None, f"refused: {refusal}")
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, str(refusal))
        except NotStored as refusal:
            await self._audit_submission(principal, candidates, None, f"not stored: {refusal}")
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(refusal))
        if not validate_only:
            # The audit trail's one hook for submissions: recorded before the caller's answer.
            await self._audit_submission(principal, candidates, verdicts)
            metrics.count_verdicts([m.WhichOneof("payload") or "none" for m in events], verdicts)
        return [_result(index, verdict) for index, verdict in enumerate(verdicts)]

    async def _audit_submission(
        self,
        principal: Principal,
        candidates: Sequence[Candidate],
        verdicts: Sequence[Verdict] | None,
        refusal: str = "",
    ) -> None:
        for audit in submission_audits(principal, candidates, verdicts, refusal):
            await self._audit(principal, audit)

    async def _audit(self, principal: Principal, detail: RegistryChange | Submission) -> None:
        if self._trail is not None:
            await self._trail.record(principal, detail, wait=True)


def _claimed_site_id(message: ingest_pb2.Event) -> str:
    kind = message.WhichOneof("payload")
    return str(getattr(message, kind).site_id) if kind else ""


def _result(index: int, verdict: Verdict) -> ingest_pb2.EventResult:
    return ingest_pb2.EventResult(
        event_id=verdict.event_id,
        status=_STATUS[verdict.outcome],
        index=index,
        errors=field_errors_to_proto(list(verdict.errors)) if verdict.errors else (),
    )


def _counts(results: Sequence[ingest_pb2.EventResult]) -> dict[str, int]:
    statuses = [result.status for result in results]
    return {
        "accepted_count": statuses.count(ingest_pb2.EVENT_STATUS_ACCEPTED),
        "duplicate_count": statuses.count(ingest_pb2.EVENT_STATUS_DUPLICATE),
        "rejected_count": statuses.count(ingest_pb2.EVENT_STATUS_REJECTED),
        "changed_count": statuses.count(ingest_pb2.EVENT_STATUS_CHANGED),
    }


async def _abort(context: Context, refusal: Exception, entry: str) -> NoReturn:
    """The registration's refusal as a gRPC status."""
    if isinstance(refusal, InvalidEntry):
        await abort_bad_request(context, f"invalid {entry}", _violations(refusal.errors, entry))
    code = {
        NotACoordinator: grpc.StatusCode.PERMISSION_DENIED,
        NotStored: grpc.StatusCode.UNAVAILABLE,
        InstrumentConflict: grpc.StatusCode.ALREADY_EXISTS,
    }[type(refusal)]
    await context.abort(code, str(refusal))
    raise AssertionError("unreachable: abort raises")


def _violations(errors: list[FieldError], prefix: str) -> list[tuple[str, str]]:
    return [
        (error.field if error.field.startswith(prefix) else f"{prefix}.{error.field}", error.reason)
        for error in errors
    ]
