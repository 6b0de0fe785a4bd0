"""Recovery: the processor restarted on the national state, until it is ready and processing.

Starts from the national wave's platform (benchmarks/national_wave.py). The processor is
stopped (SIGTERM); one new survey response goes through ingest while it is down; then a worker
starts, twice: on its own local state (RocksDB), and on an empty state directory, so that it
recovers every table from its changelogs. For each, two figures from the start of the process:
its readiness probe answers (HTTP `/` on Faust's web port, what Kubernetes and compose probe),
and the new response is received (the site's release status counts it): the worker has its
tables back and processes again.

Baseline, in the same run: reading the processor's changelog topics from the beginning to their
end with a plain aiokafka consumer, which is the least a recovery from them can take.
"""

from __future__ import annotations

import dataclasses
import time
import uuid

from aiokafka import ConsumerRecord

from benchmarks.national_wave import NationalState
from benchmarks.platform import requests_of, submit_all
from benchmarks.progress import say
from benchmarks.results import ScenarioResult
from services.processor.settings import ProcessorSettings
from services.processor.topics import GROUP_TABLE, SITE_TABLE, ProcessorTopics
from shared.kafka import replay_topics

WAIT_S = 1800.0


async def read_changelogs(state: NationalState) -> tuple[float, int, int]:
    """Seconds to read every changelog record plainly, the records and their bytes."""
    platform = state.platform
    topics = ProcessorTopics.of(
        ProcessorSettings(topic_namespace=platform.namespace, app_id="processor")
    )
    names = [
        topics.changelog(SITE_TABLE, topics.site_partitions).name,
        topics.changelog(GROUP_TABLE, 1).name,
    ]
    sizes: list[int] = []

    def count(record: ConsumerRecord) -> None:
        sizes.append(len(record.value or b""))

    started = time.perf_counter()
    await replay_topics(platform.servers, names, count)
    return time.perf_counter() - started, len(sizes), sum(sizes)


async def restart(
    state: NationalState, label: str, state_dir_name: str
) -> tuple[float, float | None]:
    """Seconds from the worker's start to its readiness probe, and to the new event received
    (None after a wave cut short: the worker would first work through the wave's backlog)."""
    platform, dataset, topic = state.platform, state.dataset, state.topic
    platform.services["processor"].stop()
    template = dataset.responses[0]
    fresh = dataclasses.replace(template, event_id=str(uuid.uuid4()))
    component = (template.site_id, str(template.wave.value))
    before = topic.received().get(component, 0)
    await submit_all(
        platform.ingest_address, platform.keys, requests_of([fresh]), label="one response"
    )
    say(f"recovery: processor restarting on {label}")
    started = time.monotonic()
    ready = await platform.start_processor(
        platform.directory / state_dir_name, log_name=f"processor-{state_dir_name}.log"
    )
    if not state.complete:
        return ready, None
    deadline = started + WAIT_S
    while topic.received().get(component, 0) <= before:
        platform.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"recovery on {label}: the new response was not received")
        await topic.poll()
    return ready, time.monotonic() - started


async def measure(result: ScenarioResult, state: NationalState) -> None:
    platform = state.platform
    try:
        plain, records, size = await read_changelogs(state)
        result.parameters.update(
            sites=len(state.dataset.sites),
            changelog_records=records,
            changelog_mib=round(size / 2**20, 1),
        )
        baseline = "changelogs read plainly (aiokafka)"
        for label, state_dir in (
            ("its local RocksDB state", "processor-state"),
            ("an empty state directory (changelogs only)", "processor-state-empty"),
        ):
            ready, serving = await restart(state, label, state_dir)
            result.add(f"on {label}: readiness probe answers", ready, "s", baseline, plain)
            if serving is not None:
                result.add(f"on {label}: a new event processed", serving, "s", baseline, plain)
        if not state.complete:
            result.notes.append(
                "the national wave was cut short: the state is what the processor had folded by "
                "then, and 'a new event processed' is not measured (the worker would first work "
                "through the wave's backlog)"
            )
        result.add(
            "processor peak resident after recovery",
            platform.services["processor"].peak_kib() / 1024,
            "MiB",
        )
    finally:
        await platform.stop()
