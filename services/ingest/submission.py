"""Submitting events: who may write, duplicates, incident order, and storing before answering.

A submission is handled as a whole: a caller may write only its own site (else WriteRefused and
nothing is published); each event is then a duplicate, rejected with its field errors, or
published; the verdicts are returned only once Kafka acknowledged every accepted event. If Kafka
does not, NotStored is raised: what was stored is remembered, so the client's retry is answered
with duplicates for it and publishes the rest. A submission whose caller goes away (killed,
timed out) still finishes storing and remembering what it began.

A survey response whose event id is stored with other content is refused as CHANGED (the same
response in the survey tool, edited or completed since it was sent: the version stored first
is the one counted). New survey responses that would take a site's wave past its registered
eligible headcount are all rejected, none is stored, and ingest publishes a flag for
coordinators (`shared.domain.plausibility`). A validate-only submission is judged the same way
and stores nothing, flags included.

Submissions for different sites run concurrently. Those sharing a site take turns (the incident
order check must see every earlier outcome of the site), and an event id still being stored by
another submission is judged once that one knows whether Kafka has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Sequence
from enum import StrEnum
from typing import NamedTuple

import structlog

from services.ingest import metrics
from services.ingest.ports import AcceptedEvents, Event, PublishFailed, RecordPublisher, Registry
from shared.auth import Principal
from shared.clock import utc_now
from shared.domain.model import (
    BiasIncidentAcknowledged,
    BiasIncidentReported,
    BiasIncidentResolved,
    InterventionEvent,
    SurveyResponse,
    Wave,
)
from shared.domain.plausibility import HeadcountExceeded, check_headcount
from shared.domain.response_keys import content_fingerprint
from shared.domain.validation import FieldError, IncidentTimes, validate_incident_transition
from shared.event_records import event_record, site_flag_record
from shared.topics import Topics

log = structlog.get_logger(__name__)
_INCIDENT_DETAILS = (BiasIncidentReported, BiasIncidentAcknowledged, BiasIncidentResolved)


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    CHANGED = "changed"  # a stored survey response's id with other content: refused


class Candidate(NamedTuple):  # not a frozen dataclass: one is made per event, a tuple fastest
    """One submitted event: its id and claimed site as sent, and the event or why it is invalid."""

    event_id: str  # "" when the event has none
    site_id: str  # the site the event names, "" when none
    decoded: Event | list[FieldError]


class Verdict(NamedTuple):
    event_id: str
    outcome: Outcome
    errors: tuple[FieldError, ...] = ()


CHANGED_REASON = (
    "this response was sent before with different content (edited or completed in the survey "
    "tool since): refused; the version sent first stays the one counted, once"
)


class WriteRefused(Exception):
    """The caller may not write a site the submission names; nothing was published."""


class NotStored(Exception):
    """Kafka did not confirm some accepted events; resubmitting the same events is safe."""


class EventSubmissions:
    """The submission use case over a registry, a ledger of what is stored and a publisher."""

    def __init__(
        self,
        *,
        registry: Registry,
        ledger: AcceptedEvents,
        publisher: RecordPublisher,
        topics: Topics,
        only_site_id: str | None = None,
    ) -> None:
        self._registry = registry
        self._ledger = ledger
        self._publisher = publisher
        self._topics = topics
        self._only_site_id = only_site_id
        # A site's lock lives while a submission holds or waits for it.
        self._site_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._storing: dict[str, asyncio.Future[None]] = {}  # event id -> its store finishing
        self._in_flight: set[asyncio.Future[list[Verdict]]] = set()

    async def submit(
        self, principal: Principal, candidates: Sequence[Candidate], *, validate_only: bool = False
    ) -> list[Verdict]:
        """Each candidate's verdict, once every accepted one is stored (`validate_only`: what
        the verdicts would be, nothing stored)."""
        self._check_permission(principal, candidates)
        if validate_only:
            async with contextlib.AsyncExitStack() as held:
                for site_id in sorted({c.site_id for c in candidates if c.site_id}):
                    await held.enter_async_context(self._site_lock(site_id))
                await self._wait_for_stores_of(candidates)
                verdicts, _, _ = self._judge(candidates)
            return verdicts
        # Shielded: a caller that goes away cancels its handler, but what Kafka stores must
        # still reach the ledger, or the caller's retry would publish the same events twice.
        judging = asyncio.ensure_future(self._judge_and_store(candidates))
        self._in_flight.add(judging)
        judging.add_done_callback(self._in_flight.discard)
        return await asyncio.shield(judging)

    def _check_permission(self, principal: Principal, candidates: Sequence[Candidate]) -> None:
        for index, candidate in enumerate(candidates):
            site_id = candidate.site_id
            if not site_id:
                continue  # rejected with a field error by validation
            if self._only_site_id is not None and site_id != self._only_site_id:
                raise WriteRefused(
                    f"event {index} is for site {site_id!r}; "
                    f"this ingest serves only {self._only_site_id!r}"
                )
            if not principal.may_write(site_id):
                raise WriteRefused(
                    f"event {index} is for site {site_id!r}; credential {principal.key_id!r} "
                    f"may write only site {principal.site_id!r}. Nothing was published."
                )

    async def _judge_and_store(self, candidates: Sequence[Candidate]) -> list[Verdict]:
        async with contextlib.AsyncExitStack() as held:
            for site_id in sorted({c.site_id for c in candidates if c.site_id}):
                await held.enter_async_context(self._site_lock(site_id))
            await self._wait_for_stores_of(candidates)
            # From judging to claiming the accepted ids nothing awaits: no other submission
            # can judge the same ids in between.
            verdicts, accepted, exceeded = self._judge(candidates)
            stored = asyncio.get_running_loop().create_future()
            for event in accepted:
                self._storing[event.event_id] = stored
            try:
                await self._store(accepted)
            finally:
                for event in accepted:
                    del self._storing[event.event_id]
                stored.set_result(None)
            await self._flag(exceeded)
        return verdicts

    def _site_lock(self, site_id: str) -> asyncio.Lock:
        lock = self._site_locks.get(site_id)
        if lock is None:
            lock = self._site_locks[site_id] = asyncio.Lock()
        return lock

    async def _wait_for_stores_of(self, candidates: Sequence[Candidate]) -> None:
        """Returns once no other submission is storing an event id of these candidates."""
        while pending := {
            self._storing[c.event_id] for c in candidates if c.event_id in self._storing
        }:
            await asyncio.wait(pending)

    def _judge(
        self, candidates: Sequence[Candidate]
    ) -> tuple[list[Verdict], list[Event], list[HeadcountExceeded]]:
        """Each candidate's verdict, the valid new events to store, and the site waves whose
        new responses were refused for exceeding the eligible headcount."""
        verdicts: list[Verdict] = []
        accepted: list[Event] = []
        seen: set[str] = set()
        incidents: dict[tuple[str, str], IncidentTimes] = {}  # as this submission leaves them
        for candidate in candidates:
            event_id = candidate.event_id
            if event_id and (event_id in seen or self._ledger.knows(event_id)):
                verdicts.append(self._known(candidate))
                continue
            event = candidate.decoded
            errors = event if isinstance(event, list) else self._check_history(event, incidents)
            if errors or isinstance(event, list):
                verdicts.append(Verdict(event_id, Outcome.REJECTED, tuple(errors)))
                continue
            seen.add(event_id)
            accepted.append(event)
            verdicts.append(Verdict(event_id, Outcome.ACCEPTED))
        exceeded = self._check_headcounts(accepted)
        if exceeded:
            refused = {(e.site_id, e.wave): e for e in exceeded}
            for index, verdict in enumerate(verdicts):
                if verdict.outcome is Outcome.ACCEPTED:
                    event = candidates[index].decoded
                    if isinstance(event, SurveyResponse) and (
                        excess := refused.get((event.site_id, event.wave))
                    ):
                        verdicts[index] = Verdict(
                            verdict.event_id,
                            Outcome.REJECTED,
                            (FieldError("survey_response.wave", excess.reason()),),
                        )
            accepted = [
                e
                for e in accepted
                if not (isinstance(e, SurveyResponse) and (e.site_id, e.wave) in refused)
            ]
        return verdicts, accepted, exceeded

    def _known(self, candidate: Candidate) -> Verdict:
        """A candidate whose event id is stored (or earlier in the submission): a duplicate,
        or a survey response changed since it was stored."""
        stored = self._ledger.fingerprint(candidate.event_id)
        event = candidate.decoded
        if (
            stored is not None
            and isinstance(event, SurveyResponse)
            and content_fingerprint(event) != stored
        ):
            return Verdict(
                candidate.event_id,
                Outcome.CHANGED,
                (FieldError("survey_response.event_id", CHANGED_REASON),),
            )
        return Verdict(candidate.event_id, Outcome.DUPLICATE)

    def _check_headcounts(self, accepted: Sequence[Event]) -> list[HeadcountExceeded]:
        """The site waves whose new responses would exceed the site's eligible headcount."""
        arriving: dict[tuple[str, Wave], int] = {}
        for event in accepted:
            if isinstance(event, SurveyResponse):
                key = (event.site_id, event.wave)
                arriving[key] = arriving.get(key, 0) + 1
        exceeded = []
        for (site_id, wave), count in sorted(arriving.items()):
            site = self._registry.sites.get(site_id)
            if site is None:
                continue
            excess = check_headcount(site, wave, self._ledger.responses(site_id, wave), count)
            if excess is not None:
                exceeded.append(excess)
        return exceeded

    async def _flag(self, exceeded: Sequence[HeadcountExceeded]) -> None:
        """Tell coordinators which sites' uploads were refused as implausible."""
        if not exceeded:
            return
        for excess in exceeded:
            log.warning(
                "upload_exceeds_eligible_headcount",
                site_id=excess.site_id,
                wave=str(excess.wave),
                eligible=excess.eligible,
                stored=excess.stored,
                refused=excess.arriving,
            )
        now = utc_now()
        try:
            await self._publisher.publish(
                [site_flag_record(self._topics, excess, now) for excess in exceeded]
            )
        except PublishFailed as error:
            log.warning("site_flag_unpublished", error=str(error))

    def _check_history(
        self, event: Event, incidents: dict[tuple[str, str], IncidentTimes]
    ) -> list[FieldError]:
        """What the event contradicts in what is registered and stored (or accepted before it)."""
        if event.site_id not in self._registry.sites:
            kind = "intervention" if isinstance(event, InterventionEvent) else "survey_response"
            return [
                FieldError(
                    f"{kind}.site_id",
                    f"unknown site {event.site_id!r}: it must be registered first",
                )
            ]
        if not isinstance(event, InterventionEvent) or not isinstance(
            event.detail, _INCIDENT_DETAILS
        ):
            return []
        key = (event.site_id, event.detail.incident_id)
        previous = incidents.get(key) or self._ledger.incident_times(*key)
        errors = validate_incident_transition(previous, event)
        if not errors:
            incidents[key] = previous.after(event)
        return errors

    async def _store(self, accepted: Sequence[Event]) -> None:
        """Publish the accepted events and remember those Kafka confirmed."""
        if not accepted:
            return
        records = (event_record(self._topics, event) for event in accepted)  # encoded as sent
        started = time.perf_counter()
        try:
            stored = await self._publisher.publish(records)
        except PublishFailed as error:
            log.warning("publish_unavailable", error=str(error))
            stored = [False] * len(accepted)
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
        for event, ok in zip(accepted, stored, strict=True):
            if ok:
                self._ledger.record(event)
        if not all(stored):
            raise NotStored(
                f"Kafka did not confirm {stored.count(False)} of {len(stored)} valid events; "
                "they were not stored. Resubmit the same events: those stored come back as "
                "duplicates."
            )
