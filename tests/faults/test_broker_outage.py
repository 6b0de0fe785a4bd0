"""The broker stopped and restarted while every site is pushing.

Thirteen sites push their survey responses through a real ingest process (publish timeout 5 s)
while the processor runs; once a quarter is acknowledged the local broker is stopped. The clients
get UNAVAILABLE (never OK: ingest answers only what Kafka acknowledged) and back off; `jedi push`
processes started while the broker is down upload the intervention events of four sites,
retrying with backoff and, if they run out of attempts, run again and resume from their saved
progress. Then the broker comes back. Every event ingest acknowledged must be on the topics,
nothing acknowledged may be missing from them, and the processor counts every event once (its
releases equal the batch reference over what they cover).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import pytest
from google.protobuf import json_format

from services.local_process import ROOT
from services.processor.settings import ProcessorSettings
from services.processor.topics import ProcessorTopics
from shared.convert import intervention_to_proto
from shared.demo_dataset import build_demo_dataset
from shared.domain.model import InterventionEvent, SurveyResponse
from shared.domain.releases import event_counts
from shared.domain.sample_instrument import JEDI_CULTURE
from tests.faults.harness import (
    Figures,
    Pushed,
    push_sites,
    register,
    start_ingest,
    stored_event_ids,
    wait_serving,
)
from tests.faults.test_processor_kills import SETTINGS
from tests.integration.test_ingest_broker_outage import kafka_script
from tests.support.benchmarks_follower import BenchmarksFollower
from tests.support.credentials import write_credentials
from tests.support.ingest import DATASET_NOW, arrival_order
from tests.support.kafka import bootstrap_servers, new_namespace
from tests.support.processor_process import ProcessorProcess, processor_env, stopped_afterwards
from tests.support.published import latest_releases
from tests.support.waiting import eventually

pytestmark = pytest.mark.broker_restart
SCALE = 0.35
PUSH_SITES = 4  # sites whose intervention events `jedi push` uploads during the outage
TIMEOUT_S = 300
SUMMARY = re.compile(
    r": (?P<rows>\d+) rows: (?P<accepted>\d+) accepted, (?P<duplicates>\d+) duplicates, "
    r"(?P<rejected>\d+) rejected"
)


async def jedi_push(path: Path, address: str, key: str, state_dir: Path) -> int:
    """`jedi push interventions` as a site runs it; its exit status."""
    with (
        path.with_suffix(".stdout").open("ab") as stdout,
        path.with_suffix(".stderr").open("ab") as stderr,
    ):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.cli",
            "push",
            "interventions",
            str(path),
            "--address",
            address,
            "--api-key",
            key,
            "--batch-size",
            "5",
            "--state-dir",
            str(state_dir),
            cwd=ROOT,
            stdout=stdout,
            stderr=stderr,
        )
        return await process.wait()


def pushed_summary(stdout: Path) -> dict[str, int]:
    """The counts of `jedi push`'s closing line ("<file>: N rows: A accepted, D duplicates, R
    rejected"), which count every run of an upload resumed from saved progress."""
    lines = list(SUMMARY.finditer(stdout.read_text()))
    assert lines, f"jedi push printed no summary: {stdout.read_text()!r}"
    return {name: int(value) for name, value in lines[-1].groupdict().items()}


async def push_until_done(path: Path, address: str, key: str, state_dir: Path) -> list[int]:
    """Runs `jedi push` again after it gave up (exit 2), as an operator would: it resumes where
    its saved progress says. The exit statuses of every run."""
    statuses: list[int] = []
    while not statuses or statuses[-1] == 2:
        assert len(statuses) < 10, (
            f"jedi push kept failing: {path.with_suffix('.stderr').read_text()}"
        )
        statuses.append(await jedi_push(path, address, key, state_dir))
    return statuses


@pytest.mark.skipif(
    not (ROOT / ".local/kafka.pid").exists(),
    reason="needs the broker started by scripts/kafka.sh (make test-faults) to stop and restart it",
)
async def test_broker_stopped_and_restarted_during_ingestion(
    tmp_path: Path, figures: Figures
) -> None:
    dataset = build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, scale=SCALE)
    responses: list[SurveyResponse] = list(dataset.responses)
    site_ids = sorted({e.site_id for e in dataset.interventions})[:PUSH_SITES]
    by_cli: list[InterventionEvent] = [e for e in dataset.interventions if e.site_id in site_ids]
    direct = [*responses, *(e for e in dataset.interventions if e.site_id not in site_ids)]
    events = arrival_order([*direct, *by_cli])
    namespace = new_namespace()
    keys = write_credentials(tmp_path, [site.site_id for site in dataset.sites])
    topics = ProcessorTopics.of(
        ProcessorSettings(topic_namespace=namespace, app_id=f"{namespace}processor")
    )
    files = {}
    for site in site_ids:
        files[site] = tmp_path / f"{site}.jsonl"
        files[site].write_text(
            "".join(
                json.dumps(json_format.MessageToDict(intervention_to_proto(e))) + "\n"
                for e in arrival_order(by_cli)
                if e.site_id == site
            )
        )
    ingest, address = start_ingest(tmp_path, namespace, keys, publish_timeout_s=5)
    env = processor_env(
        namespace=namespace,
        state_dir=tmp_path / "state",
        servers=bootstrap_servers(),
        app_id=f"{namespace}processor",
        **SETTINGS,
    )
    processes = [ProcessorProcess(env, tmp_path / "processor-0.log").start()]
    figures.sent = len(events)
    pushed = Pushed()
    broker_down = False
    try:
        with stopped_afterwards(processes):
            await wait_serving(address, ingest)
            await register(address, keys, dataset)
            pushing = asyncio.create_task(
                push_sites(address, keys, direct, pushed, batch=5, retry_for_s=TIMEOUT_S)
            )
            await eventually(
                lambda: len(pushed.acknowledged),
                120,
                what="a tenth of the events acknowledged",
                until=lambda n: n >= len(direct) // 10,
            )
            await asyncio.to_thread(kafka_script, "down")
            broker_down = True
            figures.faults += 1
            acknowledged_at_stop = len(pushed.acknowledged)
            uploads = asyncio.gather(
                *(
                    push_until_done(files[s], address, keys.sites[s], tmp_path / f"push-{s}")
                    for s in site_ids
                )
            )
            await eventually(
                lambda: pushed.unavailable,
                120,
                what="the clients to be answered UNAVAILABLE",
                until=lambda n: n >= 3,
            )
            acknowledged_while_down = len(pushed.acknowledged) - acknowledged_at_stop
            await asyncio.to_thread(kafka_script, "up")
            broker_down = False
            statuses = await uploads
            await pushing
            if not processes[
                -1
            ].running:  # a worker that gave up on Kafka: its supervisor restarts it
                figures.notes.append(
                    f"processor exited {processes[-1].process.returncode}, restarted"
                )
                processes.append(ProcessorProcess(env, tmp_path / "processor-1.log").start())
            by_cli_acknowledged = 0
            for site, runs in zip(site_ids, statuses, strict=True):
                assert runs[-1] == 0, f"jedi push for {site}: {runs}"
                # Its saved progress is deleted once done; its last line sums up every run's.
                done = pushed_summary(files[site].with_suffix(".stdout"))
                assert done["rejected"] == 0
                assert done["accepted"] + done["duplicates"] == done["rows"]
                by_cli_acknowledged += done["accepted"] + done["duplicates"]
            runs = [len(r) for r in statuses]
            figures.notes.append(
                f"{pushed.unavailable} calls answered UNAVAILABLE and retried; "
                f"{acknowledged_while_down} acknowledged in the instant the broker stopped; "
                f"jedi push runs per site {runs} (exit 2 = gave up, then resumed)"
            )
            figures.acknowledged = len(pushed.acknowledged) + by_cli_acknowledged
            ids = await stored_event_ids(topics.platform)
            # Nothing acknowledged that was not stored; every acknowledged event is present.
            assert pushed.acknowledged <= set(ids)
            assert set(ids) == {e.event_id for e in events}
            figures.present = len(ids)
            figures.duplicates = sum(ids.values()) - len(ids)

            final = processes[-1]
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
                figures.audits += 1
                received = topic.received()
                assert received == event_counts(events)  # counted once
                figures.counted = sum(received.values())
                figures.counted_twice = max(0, figures.counted - len(events))
                figures.covered = sum(
                    sum(r.covered.values())
                    for s, r in latest_releases(topic.records).items()
                    if s.startswith("site/")
                )
    finally:
        if broker_down:
            await asyncio.to_thread(kafka_script, "up")
        ingest.stop()
