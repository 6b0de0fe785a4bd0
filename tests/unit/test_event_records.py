"""The Kafka record of an accepted event: what ingest writes and the processor reads."""

from __future__ import annotations

import pytest

from jedi.v1 import events_pb2, survey_pb2
from shared import convert
from shared.event_records import EVENT_ID_HEADER, event_record
from shared.topics import Topics
from tests.unit.test_validation import VALID_DETAILS, VALID_RESPONSE, intervention

TOPICS = Topics("t.")


def test_a_response_goes_to_the_survey_topic_keyed_by_its_site():
    record = event_record(TOPICS, VALID_RESPONSE)
    assert (
        record.topic == TOPICS.survey_responses.name
        and record.key == VALID_RESPONSE.site_id.encode()
    )
    # The value is the submitted envelope's payload (map fields serialise in no fixed order).
    assert (
        survey_pb2.SurveyResponse.FromString(record.value)
        == convert.event_to_proto(VALID_RESPONSE).survey_response
    )
    assert record.headers == [(EVENT_ID_HEADER, VALID_RESPONSE.event_id.encode())]


@pytest.mark.parametrize("detail", VALID_DETAILS, ids=lambda detail: type(detail).__name__)
def test_an_intervention_goes_to_the_interventions_topic(detail):
    event = intervention(detail)
    record = event_record(TOPICS, event)
    assert record.topic == TOPICS.interventions.name and record.key == event.site_id.encode()
    assert (
        convert.intervention_from_proto(events_pb2.InterventionEvent.FromString(record.value))
        == event
    )
    assert record.event_id == event.event_id


def test_anything_else_is_refused():
    with pytest.raises(TypeError, match="not an event"):
        event_record(TOPICS, "a string")
