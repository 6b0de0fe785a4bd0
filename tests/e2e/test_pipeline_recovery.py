"""The processor killed with SIGKILL mid-stream: nothing lost, nothing counted twice.

Small datasets and small batches, so that a kill lands between publishing and storing, and
between storing and committing. After each restart the benchmarks topic must again equal the
batch reference exactly: a replayed event counted twice, or a batch lost, would change some n.

- one worker, killed and restarted on its RocksDB state; then, once the broker has compacted
  the changelogs, a worker with empty local state recovers everything from them, and events
  published a second time (a producer's retry) are recognised as already applied;
- two workers sharing the partitions, one killed: the other takes its partitions over
  through a rebalance; the killed one comes back and takes some back.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from services.processor.settings import ProcessorSettings
from services.processor.topics import ProcessorTopics
from shared.demo_dataset import build_demo_dataset
from shared.domain.sample_instrument import JEDI_CULTURE
from shared.event_records import event_record
from shared.kafka import ensure_topics, make_producer
from shared.topics import TopicSpec
from tests.support.benchmarks_follower import BenchmarksFollower
from tests.support.ingest import DATASET_NOW, arrival_order, running_ingest, submit_events
from tests.support.kafka import (
    bootstrap_servers,
    group_state,
    new_namespace,
    read_topic,
    records_written,
)
from tests.support.processor_process import ProcessorProcess, processor_env, stopped_afterwards
from tests.support.waiting import eventually

SCALE = 0.12  # about 650 responses and 450 intervention events
FAST = {
    "batch_size": 25,
    "batch_window_s": 0.2,
    "registry_check_interval_s": 1,
    "stall_patience_s": 6,
}
TIMEOUT_S = 150


@pytest.fixture(scope="module")
def dataset():
    return build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, scale=SCALE)


def start(tmp_path: Path, name: str, namespace: str, state: str, **settings) -> ProcessorProcess:
    env = processor_env(
        namespace=namespace,
        state_dir=tmp_path / state,
        servers=bootstrap_servers(),
        **{**FAST, **settings},
    )
    return ProcessorProcess(env, tmp_path / f"{name}.log").start()


def batches_logged(process: ProcessorProcess, field: str) -> int:
    """A count its batch logs add up to: what a process did, read after it was killed (its
    metrics went with it)."""
    text = process.log_path.read_text(errors="replace") if process.log_path.exists() else ""
    return sum(int(n) for n in re.findall(rf'"{field}": (\d+)', text))


async def wait_for_inputs(
    processes: list[ProcessorProcess],
    outcome: str,
    at_least: int,
    *,
    each_at_least: int = 0,
    timeout: float = 60,
) -> list[int]:
    """Until the processes together have folded `at_least` input records with this outcome (their
    `jedi_processor_inputs_total`), each at least `each_at_least`; the count of each."""

    async def counts() -> list[int]:
        for process in processes:
            assert process.running, f"the processor exited:\n{process.log_tail()}"
        return [await process.inputs(outcome) for process in processes]

    return await eventually(
        counts,
        timeout,
        what=f"{at_least} {outcome} inputs, {each_at_least} or more each",
        until=lambda each: sum(each) >= at_least and min(each) >= each_at_least,
        ignoring=(OSError,),  # a metrics server not up yet
    )


async def wait_for_members(topics: ProcessorTopics, members: int, timeout: float = 60) -> None:
    """Until the processors' consumer group is done rebalancing with `members` workers."""
    await eventually(
        lambda: group_state(bootstrap_servers(), topics.app_id),
        timeout,
        what=f"the group {topics.app_id} stable with {members} members",
        until=lambda state: state == ("Stable", members),
    )


async def create_topics_with_eager_compaction(namespace: str) -> ProcessorTopics:
    """The processor's topics, its changelogs rolled and compacted by the broker within seconds."""
    topics = ProcessorTopics.of(ProcessorSettings(topic_namespace=namespace))
    eager = {"segment.ms": "300", "min.cleanable.dirty.ratio": "0.001"}
    specs = [
        TopicSpec(spec.name, spec.partitions, {**spec.config, **eager})
        if spec.name.endswith("-changelog")
        else spec
        for spec in topics.all
    ]
    await ensure_topics(bootstrap_servers(), specs)
    return topics


async def compacted(topic: str) -> bool:
    """Whether the broker removed superseded values: fewer records than offsets."""
    records = await read_topic(bootstrap_servers(), topic)
    last = {}
    for record in records:
        last[record.partition] = max(last.get(record.partition, -1), record.offset)
    return len(records) < sum(offset + 1 for offset in last.values())


async def publish_again(namespace_topics: ProcessorTopics, events) -> None:
    """Events a producer published twice (a retry after a lost acknowledgement), bypassing ingest."""
    producer = make_producer(bootstrap_servers())
    await producer.start()
    try:
        for event in events:
            record = event_record(namespace_topics.platform, event)
            await producer.send_and_wait(
                record.topic, record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()


async def test_sigkill_mid_stream_then_recovery_from_compacted_changelogs(tmp_path, dataset):
    namespace = new_namespace()
    topics = await create_topics_with_eager_compaction(namespace)
    events = arrival_order([*dataset.responses, *dataset.interventions])
    half, three_quarters = len(events) // 2, len(events) * 3 // 4
    first = start(tmp_path, "first", namespace, "state-a")
    processes = [first]
    with stopped_afterwards(processes):
        async with running_ingest(tmp_path, namespace=namespace, dataset=dataset) as ingest:
            await submit_events(ingest, events[:half])
            await wait_for_inputs([first], "applied", 100)
            pushing = asyncio.create_task(
                submit_events(ingest, events[half:three_quarters], batch=50)
            )
            await wait_for_inputs([first], "applied", half + 100)
            first.kill()  # mid-stream: the third quarter is still arriving, the last is to come
            await pushing
            killed_after = batches_logged(first, "applied")
            await submit_events(ingest, events[three_quarters:], batch=50)
        assert killed_after < len(events), "the kill came too late to be mid-stream"

        second = start(tmp_path, "second", namespace, "state-a")  # same local RocksDB
        processes.append(second)
        async with BenchmarksFollower(
            bootstrap_servers(), topics.platform.benchmarks.name
        ) as topic:
            await topic.wait_for(
                dataset.sites,
                [dataset.instrument],
                events,
                processor=topics,
                timeout=TIMEOUT_S,
                alive=lambda: second.running,
            )
        assert second.terminate() == 0, second.log_tail()

        changelog = topics.changelog("sites", topics.site_partitions).name
        await eventually(
            lambda: compacted(changelog),
            90,
            what="the broker to compact the changelog",
            interval=2,  # each look reads the whole changelog
        )
        site_changes = await records_written(bootstrap_servers(), topics.site_changes.name)
        third = start(
            tmp_path, "third", namespace, "state-empty"
        )  # recovers from the changelogs alone
        processes.append(third)
        duplicates = [*dataset.responses[:40], *dataset.interventions[:10]]
        await publish_again(topics, duplicates)
        await wait_for_inputs([third], "duplicate", len(duplicates))
        # Its first timer tick forwards every site again, folded into the recovered values alone.
        await eventually(
            lambda: records_written(bootstrap_servers(), topics.site_changes.name),
            60,
            what="the new leader to forward every site again",
            until=lambda written: written >= site_changes + len(dataset.sites),
        )
        async with BenchmarksFollower(
            bootstrap_servers(), topics.platform.benchmarks.name
        ) as topic:
            await topic.wait_for(
                dataset.sites,
                [dataset.instrument],
                events,
                processor=topics,
                timeout=TIMEOUT_S,
                alive=lambda: third.running,
            )
        # Every event was already in the recovered state.
        assert await third.inputs("applied") == 0


async def test_two_workers_share_the_partitions_and_one_is_killed(tmp_path, dataset):
    namespace = new_namespace()
    topics = await create_topics_with_eager_compaction(namespace)
    events = arrival_order([*dataset.responses, *dataset.interventions])
    # One keeps its tables in RocksDB, the other in memory (recovered from the changelogs at each assignment).
    stores = {"state-1": "rocksdb", "state-2": "memory"}
    workers = [start(tmp_path, "worker-1", namespace, "state-1")]
    processes = list(workers)
    with stopped_afterwards(processes):
        await wait_for_members(topics, 1)
        workers.append(
            start(tmp_path, "worker-2", namespace, "state-2", table_store=stores["state-2"])
        )
        processes.append(workers[1])
        await wait_for_members(topics, 2)
        third, two_thirds = len(events) // 3, len(events) * 2 // 3
        async with running_ingest(tmp_path, namespace=namespace, dataset=dataset) as ingest:
            await submit_events(ingest, events[:third])
            pushing = asyncio.create_task(submit_events(ingest, events[third:two_thirds], batch=50))
            # Both at work on their share of the partitions: kill the busier one, mid-stream.
            applied = await wait_for_inputs(workers, "applied", third, each_at_least=1)
            ranked = sorted(zip(applied, workers, strict=True), key=lambda pair: -pair[0])
            workers = [worker for _, worker in ranked]
            workers[0].kill()
            await pushing
            await submit_events(ingest, events[two_thirds:], batch=50)
        assert 0 < batches_logged(workers[0], "applied") < len(events)
        async with BenchmarksFollower(
            bootstrap_servers(), topics.platform.benchmarks.name
        ) as topic:
            await topic.wait_for(
                dataset.sites,
                [dataset.instrument],
                events,
                processor=topics,
                timeout=TIMEOUT_S,
                alive=lambda: workers[1].running,
            )
            state = Path(workers[0].env["JEDI_STATE_DIR"]).name
            back = start(
                tmp_path, "killed-one-again", namespace, state, table_store=stores[state]
            )  # rebalances again
            processes.append(back)
            await wait_for_members(topics, 2)
            survivors = [workers[1], back]
            seen = sum(await wait_for_inputs(survivors, "duplicate", 0))
            duplicates = [*dataset.responses[:60], *dataset.interventions[:20]]
            await publish_again(topics, duplicates)
            await wait_for_inputs(survivors, "duplicate", seen + len(duplicates))
            both_alive = lambda: back.running and workers[1].running  # noqa: E731
            await topic.wait_for(
                dataset.sites,
                [dataset.instrument],
                events,
                processor=topics,
                timeout=TIMEOUT_S,
                alive=both_alive,
            )
