"""The processor SIGKILLed again and again during a large run, then every event resubmitted.

Thirteen sites push about 3,000 events at once through a real ingest process while the
processor (a real process, releases every second) is killed with SIGKILL five times, each time
after a random number of inputs; one restart is on an empty state directory, so that worker
recovers its tables from the changelogs alone. Afterwards the latest releases must equal the batch
reference over what they cover, every event sent must be received exactly once (the releases'
covered and held-back counts), and no release ever published may fail the privacy audit.

Then every event is resubmitted, through ingest (answered DUPLICATE) and straight onto the topics
(a producer's retry the processor must recognise): no cell and no release changes.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from services.processor.settings import ProcessorSettings
from services.processor.topics import ProcessorTopics
from shared.demo_dataset import build_demo_dataset
from shared.domain.releases import event_counts
from shared.domain.sample_instrument import JEDI_CULTURE
from tests.e2e.test_pipeline_recovery import publish_again
from tests.faults.harness import (
    Figures,
    Pushed,
    push_sites,
    register,
    start_ingest,
    stored_event_ids,
    wait_serving,
)
from tests.support.benchmarks_follower import BenchmarksFollower
from tests.support.credentials import write_credentials
from tests.support.ingest import DATASET_NOW, arrival_order
from tests.support.kafka import bootstrap_servers, new_namespace
from tests.support.privacy import privacy_violations
from tests.support.processor_process import (
    ProcessorProcess,
    processor_env,
    stopped_afterwards,
    uncommitted_inputs,
)
from tests.support.published import latest_releases, releases_of
from tests.support.waiting import eventually

SCALE = 0.6  # 13 sites, about 3,000 survey responses and 500 intervention events
KILLS = 5
SETTINGS = {
    "release_every": "1s",
    "batch_size": 100,
    "batch_window_s": 0.2,
    "registry_check_interval_s": 1,
    "stall_patience_s": 6,
}
TIMEOUT_S = 300


def start(tmp_path: Path, namespace: str, life: int, state: str) -> ProcessorProcess:
    env = processor_env(
        namespace=namespace,
        state_dir=tmp_path / state,
        servers=bootstrap_servers(),
        app_id=f"{namespace}processor",
        **SETTINGS,
    )
    return ProcessorProcess(env, tmp_path / f"processor-{life}.log").start()


async def folded(process: ProcessorProcess, pushing: asyncio.Task[None]) -> int:
    """Inputs this process folded (applied or recognised as duplicates); raises what the
    pushing clients raised, if they failed."""
    assert process.running, f"the processor exited:\n{process.log_tail()}"
    if pushing.done():
        pushing.result()
    return await process.inputs("applied") + await process.inputs("duplicate")


async def test_processor_sigkilled_five_times_then_every_event_resubmitted(
    tmp_path: Path, figures: Figures
) -> None:
    rng = random.Random(20)
    dataset = build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, scale=SCALE)
    events = arrival_order([*dataset.responses, *dataset.interventions])
    namespace = new_namespace()
    keys = write_credentials(tmp_path, [site.site_id for site in dataset.sites])
    topics = ProcessorTopics.of(
        ProcessorSettings(topic_namespace=namespace, app_id=f"{namespace}processor")
    )
    ingest, address = start_ingest(tmp_path, namespace, keys)
    processes = [start(tmp_path, namespace, 0, "state")]
    figures.sent = len(events)
    pushed = Pushed()
    try:
        with stopped_afterwards(processes):
            await wait_serving(address, ingest)
            await register(address, keys, dataset)
            pushing = asyncio.create_task(push_sites(address, keys, events, pushed, batch=40))
            for life in range(1, KILLS + 1):
                threshold = rng.randint(40, 300)
                await eventually(
                    lambda: folded(processes[-1], pushing),
                    120,
                    what=f"{threshold} inputs folded before kill {life}",
                    until=lambda n, t=threshold: n >= t,
                    ignoring=(OSError,),
                )
                processes[-1].kill()
                figures.faults += 1
                state = "state-empty" if life == 3 else "state"  # one recovers from changelogs
                processes.append(start(tmp_path, namespace, life, state))
            await pushing
            final = processes[-1]
            figures.acknowledged = len(pushed.acknowledged)
            assert pushed.acknowledged == {e.event_id for e in events}

            async with BenchmarksFollower(
                bootstrap_servers(), topics.platform.benchmarks.name
            ) as topic:
                await topic.wait_for(
                    dataset.sites,
                    [dataset.instrument],
                    events,
                    processor=topics,
                    timeout=TIMEOUT_S,
                    ticking=True,
                    alive=lambda: final.running,
                )
                figures.audits += 1  # the view equals the batch reference over what is covered
                ids = await stored_event_ids(topics.platform)
                figures.present = len(ids)
                figures.duplicates = sum(ids.values()) - len(ids)
                received = topic.received()
                figures.counted = sum(received.values())
                figures.counted_twice = max(0, figures.counted - len(events))
                assert received == event_counts(events)  # each event exactly once
                releases = releases_of(topic.records)
                latest = latest_releases(topic.records)
                figures.covered = sum(
                    sum(r.covered.values()) for s, r in latest.items() if s.startswith("site/")
                )
                assert privacy_violations(releases, 10, min_sites=10) == []
                figures.audits += len(releases)
                figures.notes.append(f"{len(releases)} releases audited")
                assert set(ids) == {e.event_id for e in events}

                # Resubmission: every event again, through ingest and straight onto the topics.
                cells, numbers = topic.cells(), {s: r.number for s, r in latest.items()}
                duplicates_before = await final.inputs("duplicate")
                again = Pushed()
                await push_sites(address, keys, events, again, batch=200, seed=1)
                assert again.accepted == 0 and again.duplicates == len(events)
                await publish_again(topics, events)
                await eventually(
                    lambda: final.inputs("duplicate"),
                    TIMEOUT_S,
                    what="the processor to recognise every republished event",
                    until=lambda n: n >= duplicates_before + len(events),
                )
                events_topics = (
                    topics.platform.survey_responses.name,
                    topics.platform.interventions.name,
                )
                await eventually(
                    lambda: uncommitted_inputs(bootstrap_servers(), topics),
                    120,
                    what="the processor to commit every event input",
                    until=lambda left: not any(tp[0] in events_topics for tp in left),
                )
                await topic.read_to_end()
                after = latest_releases(topic.records)
                assert topic.cells() == cells
                assert {s: r.number for s, r in after.items()} == numbers
                assert topic.received() == received
                figures.audits += 1
                figures.notes.append(
                    f"resubmitted {len(events)} via ingest (all DUPLICATE) and {len(events)} "
                    "straight to the topics: 0 cells changed, 0 new releases"
                )
                figures.notes.append(f"{len(processes)} processor lives")
    finally:
        ingest.stop()
