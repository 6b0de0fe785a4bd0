"""Ingest over a real gRPC socket against the real Kafka broker."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import grpc
import pytest
from aiokafka.partitioner import DefaultPartitioner
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from opentelemetry import trace

from jedi.v1 import ingest_pb2, survey_pb2
from services.ingest.server import IngestServer
from shared.convert import event_to_proto
from shared.domain.model import (
    BiasIncidentAcknowledged,
    BiasIncidentReported,
    IncidentCategory,
    InterventionEvent,
    SurveyResponse,
    TrainingSession,
)
from tests.support.ingest import running_ingest
from tests.support.kafka import read_topic

tracer = trace.get_tracer(__name__)

ACCEPTED = ingest_pb2.EVENT_STATUS_ACCEPTED
DUPLICATE = ingest_pb2.EVENT_STATUS_DUPLICATE
REJECTED = ingest_pb2.EVENT_STATUS_REJECTED


@pytest.fixture
async def ingest(tmp_path):
    async with running_ingest(tmp_path) as harness:
        yield harness


def _site_events(harness, site_id: str, responses: int = 5, interventions: int = 5):
    dataset = harness.dataset
    survey = [r for r in dataset.responses if r.site_id == site_id][:responses]
    # Incident acknowledgements and resolutions need their report first: keep the order.
    other = [e for e in dataset.interventions if e.site_id == site_id][:interventions]
    return survey, other


async def test_valid_events_land_on_their_topic_keyed_and_partitioned_by_site(ingest):
    sent = {}
    with tracer.start_as_current_span("site-upload") as client_span:
        for site_id in ("site-north", "site-south", "site-east"):
            survey, interventions = _site_events(ingest, site_id)
            reply = await ingest.submit(
                [event_to_proto(e) for e in survey + interventions], key=ingest.keys.sites[site_id]
            )
            assert reply.accepted_count == len(survey) + len(interventions), reply
            sent[site_id] = ({e.event_id for e in survey}, {e.event_id for e in interventions})
    trace_id = format(client_span.get_span_context().trace_id, "032x")

    partitioner = DefaultPartitioner()
    for topic, which in ((ingest.topics.survey_responses, 0), (ingest.topics.interventions, 1)):
        records = await read_topic(ingest.settings.kafka_bootstrap_servers, topic.name)
        partitions = list(range(topic.partitions))
        assert {dict(r.headers)["event-id"].decode() for r in records} == set().union(
            *(ids[which] for ids in sent.values())
        )
        for record in records:
            site_id = record.key.decode()
            assert dict(record.headers)["event-id"].decode() in sent[site_id][which]
            assert record.partition == partitioner(record.key, partitions, partitions)
            # The client's trace goes on through ingest into the record's W3C trace context.
            assert dict(record.headers)["traceparent"].decode().split("-")[1] == trace_id


def _response(harness, **changes) -> survey_pb2.SurveyResponse:
    response = next(r for r in harness.dataset.responses if r.site_id == "site-north")
    return event_to_proto(dataclasses.replace(response, **changes))


def _training(harness, **changes):
    event = next(
        e
        for e in harness.dataset.interventions
        if e.site_id == "site-north" and isinstance(e.detail, TrainingSession)
    )
    detail = dataclasses.replace(event.detail, **changes.pop("detail", {}))
    return event_to_proto(dataclasses.replace(event, detail=detail, **changes))


def _first_response(harness) -> SurveyResponse:
    return next(r for r in harness.dataset.responses if r.site_id == "site-north")


BAD_CASES = {
    "likert out of range": (
        lambda h: _response(h, answers={**_first_response(h).answers, "BEL1": 6}),
        'survey_response.answers["BEL1"]',
    ),
    "unknown item code": (
        lambda h: _response(h, answers={**_first_response(h).answers, "ZZZ9": 3}),
        'survey_response.answers["ZZZ9"]',
    ),
    "unknown instrument version": (
        lambda h: _response(h, instrument_version=99),
        "survey_response.instrument_version",
    ),
    "response in the future": (
        lambda h: _response(h, submitted_at=_first_response(h).submitted_at + timedelta(days=3650)),
        "survey_response.submitted_at",
    ),
    "unknown site": (lambda h: _response(h, site_id="site-nowhere"), "survey_response.site_id"),
    "completed more than attended": (
        lambda h: _training(h, detail={"attended": 5, "completed": 9}),
        "intervention.training_session.completed",
    ),
    "bad group value": (lambda h: _response(h, groups={"urim": "maybe"}), "survey_response.groups"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
async def test_each_validation_rule_rejects_its_bad_case_naming_the_field(ingest, case):
    make_event, field = BAD_CASES[case]
    message = make_event(ingest)
    good = event_to_proto(next(r for r in ingest.dataset.responses if r.site_id == "site-north"))
    reply = await ingest.submit([message, good])
    bad_result, good_result = reply.results
    assert bad_result.status == REJECTED
    assert any(error.field.startswith(field) for error in bad_result.errors), bad_result.errors
    assert all(error.reason for error in bad_result.errors)
    # The valid event beside it is accepted: a bad event loses nothing else.
    assert good_result.status == ACCEPTED
    records = await read_topic(
        ingest.settings.kafka_bootstrap_servers, ingest.topics.survey_responses.name
    )
    stored = {dict(r.headers)["event-id"].decode() for r in records}
    assert good_result.event_id in stored and (
        bad_result.event_id not in stored or bad_result.event_id == good_result.event_id
    )


async def test_incident_lifecycle_must_be_in_order(ingest):
    base = InterventionEvent(
        event_id="incident-order-1",
        site_id="site-north",
        occurred_at=ingest.dataset.responses[0].submitted_at,
        source_system="test",
        detail=BiasIncidentAcknowledged("incident-x"),
    )
    reply = await ingest.submit([event_to_proto(base)])
    assert reply.results[0].status == REJECTED
    assert reply.results[0].errors[0].field.startswith("intervention.")
    reported = dataclasses.replace(
        base,
        event_id="incident-order-2",
        occurred_at=base.occurred_at - timedelta(hours=5),
        detail=BiasIncidentReported("incident-x", IncidentCategory.RACISM),
    )
    reply = await ingest.submit([event_to_proto(reported), event_to_proto(base)])
    assert [r.status for r in reply.results] == [ACCEPTED, ACCEPTED]


async def test_a_site_cannot_write_another_sites_events(ingest):
    survey, _ = _site_events(ingest, "site-south", responses=2)
    own, _ = _site_events(ingest, "site-north", responses=2)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await ingest.submit(
            [event_to_proto(e) for e in own + survey], key=ingest.keys.sites["site-north"]
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    records = await read_topic(
        ingest.settings.kafka_bootstrap_servers, ingest.topics.survey_responses.name
    )
    assert records == []  # not even site-north's own events: nothing is half-applied


@pytest.mark.parametrize("api_key", [None, "", "site-north.not-a-real-key"])
async def test_missing_or_unknown_credentials_are_unauthenticated(ingest, api_key):
    survey, _ = _site_events(ingest, "site-north", responses=1)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await ingest.submit([event_to_proto(e) for e in survey], key=api_key)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_malformed_request_gets_invalid_argument_with_field_violations(ingest):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await ingest.submit([])
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(raised.value)
    bad_request = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad_request)
    assert bad_request.field_violations[0].field == "events"


async def test_a_resubmitted_batch_is_answered_as_duplicates_and_adds_nothing(ingest):
    survey, interventions = _site_events(ingest, "site-north", responses=20, interventions=10)
    batch = [event_to_proto(e) for e in survey + interventions]
    first = await ingest.submit(batch, key=ingest.keys.sites["site-north"])
    second = await ingest.submit(batch, key=ingest.keys.sites["site-north"])
    assert first.accepted_count == len(batch)
    assert second.duplicate_count == len(batch) and second.accepted_count == 0
    servers = ingest.settings.kafka_bootstrap_servers
    survey_records = await read_topic(servers, ingest.topics.survey_responses.name)
    intervention_records = await read_topic(servers, ingest.topics.interventions.name)
    assert len(survey_records) + len(intervention_records) == len(batch)


async def test_an_acknowledged_event_survives_a_restart_of_ingest(ingest):
    survey, _ = _site_events(ingest, "site-east", responses=3)
    batch = [event_to_proto(e) for e in survey]
    assert (await ingest.submit(batch)).accepted_count == 3
    await ingest.server.stop()
    restarted = IngestServer(dataclasses.replace(ingest.settings, port=0))
    await restarted.start()
    ingest.server = restarted
    from jedi.v1 import ingest_pb2_grpc
    from shared.clients import open_channel

    async with open_channel(f"127.0.0.1:{restarted.port}") as channel:
        ingest.stub = ingest_pb2_grpc.IngestServiceStub(channel)
        again = await ingest.submit(batch)
        assert again.duplicate_count == 3
        records = await read_topic(
            ingest.settings.kafka_bootstrap_servers, ingest.topics.survey_responses.name
        )
        assert {dict(r.headers)["event-id"].decode() for r in records} == {
            e.event_id for e in survey
        }
        parsed = [survey_pb2.SurveyResponse.FromString(r.value) for r in records]
        assert {p.event_id for p in parsed} == {e.event_id for e in survey}


async def test_client_streaming_submit_answers_every_event(ingest):
    survey, interventions = _site_events(ingest, "site-south", responses=30, interventions=8)
    events = [event_to_proto(e) for e in survey + interventions]
    events.append(
        event_to_proto(
            dataclasses.replace(
                survey[0], event_id="bad-one", wave=survey[0].wave, answers={"BEL1": 9}
            )
        )
    )

    async def requests():
        for event in events:
            yield ingest_pb2.StreamEventsRequest(event=event)

    from shared.clients import call_metadata

    reply = await ingest.stub.StreamEvents(
        requests(), metadata=call_metadata(ingest.keys.sites["site-south"])
    )
    assert [r.index for r in reply.results] == list(range(len(events)))
    assert reply.accepted_count == len(events) - 1 and reply.rejected_count == 1
    assert reply.results[-1].errors[0].field == 'survey_response.answers["BEL1"]'
