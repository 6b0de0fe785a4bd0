"""End to end: sites → ingest (gRPC) → Kafka → `python -m services.processor` → benchmarks topic.

A realistic collaborative (13 sites, two waves, several thousand survey responses, every kind
of intervention) goes through the real ingest service and a real processor process on the
local broker. Once the benchmarks topic is quiet, every cell on it (latest value per key,
tombstones removed) equals the batch reference `compute_benchmarks` for the `as_of` the cells
carry, and no record ever written to it could reveal fewer than k people.
"""

from __future__ import annotations

import time

import pytest

from shared.demo_dataset import build_demo_dataset
from shared.domain.benchmarks import compute_benchmarks
from shared.domain.sample_instrument import JEDI_CULTURE

from tests.support.ingest import DATASET_NOW, running_ingest
from tests.support.kafka import bootstrap_servers, new_namespace
from tests.support.processor import (
    BenchmarksFollower, ProcessorProcess, arrival_order, privacy_violations, processor_env, submit_events,
)

pytestmark = pytest.mark.kafka

SCALE = 0.65  # about 3,500 survey responses and 450 intervention events
TIMEOUT_S = 240


@pytest.fixture(scope="module")
def dataset():
    return build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, scale=SCALE)


def reference_for(dataset):
    def expected(as_of):
        return compute_benchmarks(
            dataset.sites, [dataset.instrument], dataset.responses, dataset.interventions, as_of=as_of
        )
    return expected


async def test_the_benchmarks_topic_equals_the_batch_reference(tmp_path, dataset):
    servers = bootstrap_servers()
    namespace = new_namespace()
    processor = ProcessorProcess(
        processor_env(namespace=namespace, state_dir=tmp_path / "state", servers=servers), tmp_path / "processor.log"
    )
    events = arrival_order([*dataset.responses, *dataset.interventions])
    assert len(dataset.responses) > 3000 and len(dataset.sites) == 13
    assert len({type(event.detail) for event in dataset.interventions}) == 9  # every intervention kind
    started = time.monotonic()
    try:
        async with running_ingest(tmp_path, namespace=namespace, dataset=dataset) as ingest:
            processor.start()
            assert await submit_events(ingest, events) == len(events)
            pushed = time.monotonic()
            async with BenchmarksFollower(servers, ingest.topics.benchmarks.name) as topic:
                await topic.wait_for(reference_for(dataset), timeout=TIMEOUT_S, alive=lambda: processor.running)
                finished = time.monotonic()
                assert any(key.startswith("distribution/") for key in topic.view)
                assert any(key.startswith("rank/") for key in topic.view)
                assert privacy_violations(topic.records, 10, min_sites=10) == []
        print(f"\ne2e: {len(events)} events pushed in {pushed - started:.1f} s, "
              f"benchmarks complete {finished - pushed:.1f} s later; {len(topic.records)} records written")
    except BaseException:
        print(processor.log_tail(60))
        raise
    finally:
        assert processor.terminate() == 0, processor.log_tail()
