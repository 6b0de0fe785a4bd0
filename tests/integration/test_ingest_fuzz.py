"""Thousands of random, mostly malformed requests against a real ingest over a real socket.

Each gets a clear answer (a per-event rejection naming a field, or a whole-request status
with a message), the service stays up, and nothing malformed reaches a topic.
"""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jedi.v1 import events_pb2, ingest_pb2, ingest_pb2_grpc, survey_pb2
from shared.auth import API_KEY_METADATA
from shared.convert import event_to_proto, intervention_from_proto, survey_response_from_proto
from shared.domain.validation import (
    index_instruments,
    validate_intervention,
    validate_survey_response,
)
from tests.support.background_loop import BackgroundLoop
from tests.support.ingest import demo_dataset, running_ingest
from tests.support.kafka import read_topic
from tests.support.proto_strategies import random_message

WHOLE_REQUEST_CODES = {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED}
DATASET = demo_dataset()
VALID_EVENTS = [event_to_proto(e) for e in DATASET.responses[:20] + DATASET.interventions[:20]]


@pytest.fixture(scope="module")
def ingest(tmp_path_factory):
    background = BackgroundLoop()
    context = running_ingest(tmp_path_factory.mktemp("fuzz"))
    harness = background.run(context.__aenter__())
    channel = grpc.insecure_channel(f"127.0.0.1:{harness.server.port}")
    yield harness, ingest_pb2_grpc.IngestServiceStub(channel), channel
    channel.close()
    background.run(context.__aexit__(None, None, None))
    background.close()


@st.composite
def mutated_event(draw) -> ingest_pb2.Event:
    """A valid event with some fields overwritten by random values: mostly invalid."""
    event = ingest_pb2.Event()
    event.CopyFrom(draw(st.sampled_from(VALID_EVENTS)))
    payload = getattr(event, event.WhichOneof("payload"))
    payload.MergeFrom(draw(random_message(payload.DESCRIPTOR, density=15)))
    return event


EVENTS = st.one_of(mutated_event(), random_message(ingest_pb2.Event.DESCRIPTOR))


# The ingest's Kafka client (in the background loop's thread) calls the global `random` while
# Hypothesis draws; Hypothesis mistakes that for the strategies using it.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
@settings(max_examples=2500, deadline=None, suppress_health_check=list(HealthCheck))
@given(events=st.lists(EVENTS, min_size=0, max_size=4), as_site=st.booleans())
def test_random_requests_each_get_a_clear_answer(ingest, events, as_site):
    harness, stub, _ = ingest
    key = harness.keys.sites["site-north"] if as_site else harness.keys.coordinator
    try:
        reply = stub.SubmitEvents(
            ingest_pb2.SubmitEventsRequest(events=events),
            metadata=((API_KEY_METADATA, key),),
            timeout=30,
        )
    except grpc.RpcError as error:
        assert error.code() in WHOLE_REQUEST_CODES, error
        assert error.details()
        return
    assert len(reply.results) == len(events)
    assert [r.index for r in reply.results] == list(range(len(events)))
    for result in reply.results:
        if result.status in (ingest_pb2.EVENT_STATUS_REJECTED, ingest_pb2.EVENT_STATUS_CHANGED):
            # CHANGED: a stored survey response's event id with other content, refused.
            assert result.errors and all(e.field and e.reason for e in result.errors)
        else:
            assert result.status in (
                ingest_pb2.EVENT_STATUS_ACCEPTED,
                ingest_pb2.EVENT_STATUS_DUPLICATE,
            )


def test_the_service_stayed_up_and_only_valid_events_reached_the_topics(ingest):
    harness, _, channel = ingest
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert health.status == health_pb2.HealthCheckResponse.SERVING

    background = BackgroundLoop()
    servers = harness.settings.kafka_bootstrap_servers
    surveys = background.run(read_topic(servers, harness.topics.survey_responses.name))
    interventions = background.run(read_topic(servers, harness.topics.interventions.name))
    background.close()
    assert surveys or interventions, "the fuzz run should have let some valid events through"
    registry = index_instruments([DATASET.instrument])
    now = datetime.now(UTC)
    for record in surveys:
        response = survey_response_from_proto(survey_pb2.SurveyResponse.FromString(record.value))
        assert not isinstance(response, list), response
        assert validate_survey_response(response, registry, now=now) == []
        assert record.key.decode() == response.site_id
    for record in interventions:
        event = intervention_from_proto(events_pb2.InterventionEvent.FromString(record.value))
        assert not isinstance(event, list), event
        assert validate_intervention(event, now=now) == []
