"""Ingest through a real broker outage: UNAVAILABLE while Kafka is down, never OK; then it
recovers by itself (a fresh idempotent producer) and stores every event exactly once."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import grpc
import pytest

from jedi.v1 import ingest_pb2
from shared.convert import event_to_proto
from tests.support.ingest import running_ingest
from tests.support.kafka import read_topic
from tests.support.waiting import eventually

pytestmark = pytest.mark.broker_restart
REPO = Path(__file__).resolve().parents[2]


def kafka_script(command: str) -> None:
    # Without KAFKA_BOOTSTRAP_SERVERS: with it set, kafka.sh uses that cluster and starts nothing.
    environment = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    subprocess.run(
        ["bash", str(REPO / "scripts/kafka.sh"), command],
        check=True,
        cwd=REPO,
        env=environment,
        stdout=subprocess.DEVNULL,
        timeout=180,
    )


@pytest.mark.skipif(
    not (REPO / ".local/kafka.pid").exists(),
    reason="needs the broker started by scripts/kafka.sh (make test) to stop and restart it",
)
async def test_kafka_outage_answers_unavailable_then_ingest_recovers_by_itself(tmp_path):
    async with running_ingest(tmp_path, publish_timeout_s=5.0) as ingest:
        responses = [r for r in ingest.dataset.responses if r.site_id == "site-west"]
        before, during = responses[:5], responses[5:15]
        assert (await ingest.submit([event_to_proto(e) for e in before])).accepted_count == 5

        await asyncio.to_thread(kafka_script, "down")
        try:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await ingest.submit([event_to_proto(e) for e in during])
            assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        finally:
            await asyncio.to_thread(kafka_script, "up")

        # The same ingest process, no restart: retrying the batch stores it.
        async def retry() -> ingest_pb2.SubmitEventsResponse | grpc.aio.AioRpcError:
            try:
                return await ingest.submit([event_to_proto(e) for e in during])
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.UNAVAILABLE
                return error

        reply = await eventually(
            retry,
            120,
            what="ingest to recover after the broker came back",
            until=lambda answer: not isinstance(answer, grpc.aio.AioRpcError),
            interval=2,  # retries two seconds apart, as a client backing off would
        )
        assert not isinstance(reply, grpc.aio.AioRpcError)
        assert reply.accepted_count + reply.duplicate_count == len(during)

        records = await read_topic(
            ingest.settings.kafka_bootstrap_servers, ingest.topics.survey_responses.name
        )
        stored = [dict(r.headers)["event-id"].decode() for r in records]
        assert sorted(stored) == sorted(e.event_id for e in before + during)  # each exactly once
