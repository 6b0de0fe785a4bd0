"""Responses naming their survey cycle, over a real gRPC socket against the real broker: one
inside the registered cycle's window is stored with its cycle; one outside it, or of a site not
taking part, is refused with the cycle and its dates in the reason and nothing is written; a
response naming no cycle is accepted as before."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jedi.v1 import ingest_pb2, survey_pb2
from shared.clients import call_metadata
from shared.convert import event_to_proto, survey_response_from_proto
from shared.convert_cycles import cycle_to_proto
from shared.domain.cycles import SurveyCycle
from shared.domain.model import Role, SurveyResponse, Wave
from tests.support.ingest import running_ingest
from tests.support.kafka import read_topic, records_written

DATES = "(opens 2026-04-01T00:00:00Z, closes 2026-05-31T00:00:00Z)"


@pytest.fixture
async def ingest(tmp_path):
    async with running_ingest(tmp_path) as harness:
        instrument = harness.dataset.instrument
        cycle = SurveyCycle(
            cycle_id="2026",
            name="2026 culture survey",
            instrument_id=instrument.instrument_id,
            instrument_version=instrument.version,
            site_ids=("site-north", "site-south"),
            opens_at=datetime(2026, 4, 1, tzinfo=UTC),
            closes_at=datetime(2026, 5, 31, tzinfo=UTC),
        )
        await harness.stub.PutCycle(
            ingest_pb2.PutCycleRequest(cycle=cycle_to_proto(cycle)),
            metadata=call_metadata(harness.keys.coordinator),
        )
        yield harness


def response(harness, event_id: str, **changes) -> SurveyResponse:
    instrument = harness.dataset.instrument
    fields = {
        "event_id": event_id,
        "site_id": "site-north",
        "instrument_id": instrument.instrument_id,
        "instrument_version": instrument.version,
        "wave": Wave.MIDPOINT,  # its window, 2026-03-01 .. 2026-06-01, holds the cycle's
        "role": Role.RESIDENT,
        "department": None,
        "submitted_at": datetime(2026, 4, 15, 9, 30, tzinfo=UTC),
        "source_system": "qualtrics",
        "answers": {instrument.items[0].code: 4},
        "cycle_id": "2026",
    }
    return SurveyResponse(**{**fields, **changes})


async def test_responses_are_judged_against_their_cycle(ingest):
    servers = ingest.settings.kafka_bootstrap_servers
    topic = ingest.topics.survey_responses.name
    early = response(ingest, "cyc-early", submitted_at=datetime(2026, 3, 1, tzinfo=UTC))
    east = response(ingest, "cyc-east", site_id="site-east")
    refused = await ingest.submit([event_to_proto(early), event_to_proto(east)])
    assert refused.rejected_count == 2 and refused.accepted_count == 0
    assert [[(e.field, e.reason) for e in r.errors] for r in refused.results] == [
        [
            (
                "survey_response.submitted_at",
                f"submitted_at 2026-03-01T00:00:00Z is outside cycle '2026' {DATES}",
            )
        ],
        [
            (
                "survey_response.site_id",
                f"site 'site-east' does not take part in cycle '2026' {DATES}",
            )
        ],
    ]
    assert await records_written(servers, topic) == 0

    inside = response(ingest, "cyc-inside")
    no_cycle = response(ingest, "cyc-none", cycle_id=None)
    accepted = await ingest.submit([event_to_proto(inside), event_to_proto(no_cycle)])
    assert [r.status for r in accepted.results] == [ingest_pb2.EVENT_STATUS_ACCEPTED] * 2, accepted
    stored = {
        decoded.event_id: decoded.cycle_id
        for record in await read_topic(servers, topic)
        if isinstance(
            decoded := survey_response_from_proto(
                survey_pb2.SurveyResponse.FromString(record.value)
            ),
            SurveyResponse,
        )
    }
    assert stored == {"cyc-inside": "2026", "cyc-none": None}
