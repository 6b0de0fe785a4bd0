"""The submission use case over in-memory ports: sites proceed concurrently, a site's
submissions take turns, and an event id being stored elsewhere is judged once that is known."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from jedi.v1 import flags_pb2
from services.ingest.ledger import EventLedger
from services.ingest.submission import (
    CHANGED_REASON,
    Candidate,
    EventSubmissions,
    NotStored,
    Outcome,
)
from shared.auth import Principal, PrincipalRole
from shared.domain.cycles import SurveyCycle
from shared.domain.model import (
    BiasIncidentAcknowledged,
    BiasIncidentReported,
    IncidentCategory,
    Instrument,
    InterventionEvent,
    Site,
    SurveyResponse,
    Wave,
)
from shared.domain.validation import FieldError, IncidentTimes
from shared.event_records import EventRecord
from shared.topics import Topics
from tests.unit.domain.factories import response, site

EASTERN = ZoneInfo("America/New_York")
COORDINATOR = Principal("coordinator", PrincipalRole.COORDINATOR)
REPORTED_AT = datetime(2026, 5, 1, tzinfo=UTC)


class Registry:
    def __init__(self, sites: Iterable[Site]) -> None:
        self._sites = {s.site_id: s for s in sites}

    @property
    def sites(self) -> Mapping[str, Site]:
        return self._sites

    @property
    def instruments(self) -> Mapping[tuple[str, int], Instrument]:
        return {}

    def put_site(self, site: Site) -> None:
        self._sites[site.site_id] = site

    @property
    def cycles(self) -> Mapping[str, SurveyCycle]:
        return {}

    def put_instrument(self, instrument: Instrument) -> None:
        raise NotImplementedError

    def put_cycle(self, cycle: SurveyCycle) -> None:
        raise NotImplementedError


class Ledger:
    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.incidents: dict[tuple[str, str], IncidentTimes] = {}

    def knows(self, event_id: str) -> bool:
        return event_id in self.ids

    def incident_times(self, site_id: str, incident_id: str) -> IncidentTimes:
        return self.incidents.get((site_id, incident_id), IncidentTimes())

    def fingerprint(self, event_id: str) -> str | None:
        return None  # interventions only

    def responses(self, site_id: str, wave: object) -> int:
        return 0

    def record(self, event: InterventionEvent | object) -> None:
        assert isinstance(event, InterventionEvent)
        self.ids.add(event.event_id)
        key = (event.site_id, getattr(event.detail, "incident_id", ""))
        self.incidents[key] = self.incident_times(*key).after(event)


class GatedPublisher:
    """Holds each publish of a gated site until the test opens it, then answers `stored`."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.waiting: dict[str, asyncio.Event] = {}
        self.stored = True
        self.published: list[str] = []

    def gate(self, site_id: str) -> None:
        self.gates[site_id] = asyncio.Event()
        self.waiting[site_id] = asyncio.Event()

    async def publish(self, records: Iterable[EventRecord]) -> list[bool]:
        batch = list(records)
        site_id = batch[0].key.decode()
        if site_id in self.gates:
            self.waiting[site_id].set()
            await self.gates[site_id].wait()
        if self.stored:
            self.published += [record.event_id for record in batch]
        return [self.stored] * len(batch)


def incident(event_id: str, site_id: str, *, acknowledged: bool = False) -> Candidate:
    detail = (
        BiasIncidentAcknowledged("inc-1")
        if acknowledged
        else BiasIncidentReported("inc-1", next(iter(IncidentCategory)))
    )
    event = InterventionEvent(
        event_id=event_id,
        site_id=site_id,
        occurred_at=REPORTED_AT + timedelta(days=1 if acknowledged else 0),
        source_system="test",
        detail=detail,
    )
    return Candidate(event_id, site_id, event)


def submissions(publisher: GatedPublisher, ledger: Ledger | None = None) -> EventSubmissions:
    return EventSubmissions(
        registry=Registry([site("s1"), site("s2")]),
        ledger=ledger or Ledger(),
        publisher=publisher,
        topics=Topics("unit."),
    )


async def test_a_site_held_up_by_kafka_does_not_hold_up_another_site() -> None:
    publisher = GatedPublisher()
    publisher.gate("s1")
    use_case = submissions(publisher)
    slow = asyncio.create_task(use_case.submit(COORDINATOR, [incident("a", "s1")]))
    await publisher.waiting["s1"].wait()
    async with asyncio.timeout(10):  # fails, rather than hangs, if s2 waits for s1
        verdicts = await use_case.submit(COORDINATOR, [incident("b", "s2")])
    assert [v.outcome for v in verdicts] == [Outcome.ACCEPTED]
    assert not slow.done()
    publisher.gates["s1"].set()
    assert [v.outcome for v in await slow] == [Outcome.ACCEPTED]
    assert publisher.published == ["b", "a"]


async def test_a_sites_submissions_take_turns_so_incident_order_sees_what_was_not_stored() -> None:
    publisher = GatedPublisher()
    publisher.gate("s1")
    use_case = submissions(publisher)
    report = asyncio.create_task(use_case.submit(COORDINATOR, [incident("r", "s1")]))
    await publisher.waiting["s1"].wait()
    acknowledge = asyncio.create_task(
        use_case.submit(COORDINATOR, [incident("k", "s1", acknowledged=True)])
    )
    publisher.stored = False  # the report never reaches Kafka
    publisher.gates["s1"].set()
    try:
        await report
    except NotStored:
        pass
    else:
        raise AssertionError("a report Kafka did not store was answered as stored")
    publisher.stored = True
    verdicts = await acknowledge
    assert [v.outcome for v in verdicts] == [Outcome.REJECTED]
    assert [e.reason for e in verdicts[0].errors] == [
        "incident 'inc-1' cannot be acknowledged: it was never reported"
    ]
    assert publisher.published == []


async def test_an_event_id_being_stored_for_another_site_is_a_duplicate_once_stored() -> None:
    publisher = GatedPublisher()
    publisher.gate("s1")
    use_case = submissions(publisher)
    first = asyncio.create_task(use_case.submit(COORDINATOR, [incident("same", "s1")]))
    await publisher.waiting["s1"].wait()
    again = asyncio.create_task(use_case.submit(COORDINATOR, [incident("same", "s2")]))
    publisher.gates["s1"].set()
    assert [v.outcome for v in await first] == [Outcome.ACCEPTED]
    assert [v.outcome for v in await again] == [Outcome.DUPLICATE]
    assert publisher.published == ["same"]


async def test_a_submission_whose_caller_went_away_still_remembers_what_was_stored() -> None:
    publisher, ledger = GatedPublisher(), Ledger()
    publisher.gate("s1")
    use_case = submissions(publisher, ledger)
    call = asyncio.create_task(use_case.submit(COORDINATOR, [incident("a", "s1")]))
    await publisher.waiting["s1"].wait()
    call.cancel()
    publisher.gates["s1"].set()
    verdicts = await use_case.submit(COORDINATOR, [incident("a", "s1")])  # the client's retry
    assert [v.outcome for v in verdicts] == [Outcome.DUPLICATE]
    assert ledger.ids == {"a"} and publisher.published == ["a"]


# --- Survey responses: changed since sent, validate-only, the eligible headcount ---------


class RecordingPublisher:
    def __init__(self) -> None:
        self.records: list[EventRecord] = []

    async def publish(self, records: Iterable[EventRecord]) -> list[bool]:
        batch = list(records)
        self.records += batch
        return [True] * len(batch)


def survey_use_case(eligible: int) -> tuple[EventSubmissions, EventLedger, RecordingPublisher]:
    topics = Topics("unit.")
    ledger, publisher = EventLedger(topics), RecordingPublisher()
    use_case = EventSubmissions(
        registry=Registry([site("s1", resident=eligible)]),
        ledger=ledger,
        publisher=publisher,
        topics=topics,
    )
    return use_case, ledger, publisher


def as_candidate(event: SurveyResponse) -> Candidate:
    return Candidate(event.event_id, event.site_id, event)


async def test_a_response_sent_again_is_unchanged_or_changed_and_counted_once() -> None:
    use_case, ledger, publisher = survey_use_case(eligible=100)
    first = response({"BEL1": 4})
    [accepted] = await use_case.submit(COORDINATOR, [as_candidate(first)])
    assert accepted.outcome is Outcome.ACCEPTED
    same = dataclasses.replace(first, submitted_at=first.submitted_at.astimezone(EASTERN))
    edited = dataclasses.replace(first, answers={"BEL1": 2})
    verdicts = await use_case.submit(COORDINATOR, [as_candidate(same)])
    assert [v.outcome for v in verdicts] == [Outcome.DUPLICATE]
    [changed] = await use_case.submit(COORDINATOR, [as_candidate(edited)])
    assert changed.outcome is Outcome.CHANGED
    assert changed.errors == (FieldError("survey_response.event_id", CHANGED_REASON),)
    assert [r.event_id for r in publisher.records] == [first.event_id]
    assert ledger.responses("s1", Wave.BASELINE) == 1


async def test_validate_only_judges_as_submitting_would_and_stores_nothing() -> None:
    use_case, ledger, publisher = survey_use_case(eligible=100)
    stored, fresh = response({"BEL1": 4}), response({"BEL1": 5})
    await use_case.submit(COORDINATOR, [as_candidate(stored)])
    edited = dataclasses.replace(stored, answers={"BEL1": 1})
    verdicts = await use_case.submit(
        COORDINATOR,
        [as_candidate(stored), as_candidate(edited), as_candidate(fresh)],
        validate_only=True,
    )
    assert [v.outcome for v in verdicts] == [Outcome.DUPLICATE, Outcome.CHANGED, Outcome.ACCEPTED]
    assert len(publisher.records) == 1 and not ledger.knows(fresh.event_id)


async def test_responses_beyond_the_eligible_headcount_are_all_refused_and_flagged() -> None:
    use_case, ledger, publisher = survey_use_case(eligible=5)
    await use_case.submit(COORDINATOR, [as_candidate(response({"BEL1": 4})) for _ in range(3)])
    upload = [as_candidate(response({"BEL1": 3})) for _ in range(3)]
    follow_up = as_candidate(response({"BEL1": 3}, wave=Wave.FOLLOW_UP))  # another wave: fine

    checked = await use_case.submit(COORDINATOR, upload, validate_only=True)
    assert {v.outcome for v in checked} == {Outcome.REJECTED}
    assert len(publisher.records) == 3  # a check flags nothing

    verdicts = await use_case.submit(COORDINATOR, [*upload, follow_up])
    assert [v.outcome for v in verdicts] == [Outcome.REJECTED] * 3 + [Outcome.ACCEPTED]
    [error] = verdicts[0].errors
    assert error.field == "survey_response.wave"
    assert error.reason.startswith(
        "site 's1' would hold 6 responses for the baseline wave (3 stored + 3 new), more than "
        "its registered eligible headcount of 5 (a response rate of 120%); none of these "
        "responses was stored. Check that"
    )
    assert ledger.responses("s1", Wave.BASELINE) == 3
    flags = [r for r in publisher.records if r.topic == "unit.jedi.site-flags.v1"]
    [flag] = [flags_pb2.SiteFlag.FromString(r.value) for r in flags]
    assert (
        flag.site_id,
        flag.eligible_headcount,
        flag.stored_responses,
        flag.refused_responses,
    ) == (
        "s1",
        5,
        3,
        3,
    )
    assert flags[0].key == b"s1/baseline" and flag.reason == error.reason
    survey = [r for r in publisher.records if r.topic == "unit.jedi.survey-responses.v1"]
    assert len(survey) == 4  # the three stored before and the follow-up response
