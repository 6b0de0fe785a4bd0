"""End to end, the attacker of issue 10: survey responses trickled one at a time into the real
platform while a reader keeps everything ever published.

Ingest, the processor and the query service run as processes on real sockets over the local
broker; the demo collaborative's sites and instrument are registered through ingest. Then the
responses of two sites' baseline wave go through ingest one `SubmitEvents` call per response,
each site with its own key, and the next one goes only once the processor has counted the
previous one (its releases' covered and held-back counts say so): each response is a batch
of its own, the arrival pattern of "submit one response and wait for the next publication".
Meanwhile a coordinator's `Watch` (no filter) and a reader of the benchmarks topic from offset
0 record every message and every record.

Then: the auditor finds nothing in the topic's releases, nor in the releases rebuilt from the
Watch recording; the last releases equal the batch reference over the responses they cover,
cell for cell, on the topic and on the Watch; each trickled site got at least two releases.
The test prints how many releases the trickle produced, what they hold back, and freshness:
the time from the k-th new response of a release to its cut, and from each response to the
first release covering it.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from jedi.v1 import ingest_pb2, ingest_pb2_grpc, query_pb2, query_pb2_grpc
from shared.clients import call_metadata, open_channel
from shared.convert import event_to_proto, instrument_to_proto, site_to_proto
from shared.convert_benchmarks import cell_from_proto
from shared.demo_dataset import build_demo_dataset
from shared.domain.audit import Finding, audit
from shared.domain.benchmark_set import Cell
from shared.domain.model import SurveyResponse, Wave
from shared.domain.publication.reference import released_reference
from shared.domain.releases import Release, scope_of, site_scope
from shared.domain.sample_instrument import JEDI_CULTURE
from tests.support.benchmarks_follower import BenchmarksFollower
from tests.support.credentials import write_credentials
from tests.support.ingest import DATASET_NOW
from tests.support.kafka import bootstrap_servers, new_namespace
from tests.support.platform import ServiceProcess, free_port, wait_serving
from tests.support.published import covered_by, latest_releases, releases_of

ROOT = Path(__file__).resolve().parents[2]
K = 10
MIN_SITES = 10
SITES = ("site-north", "site-plains")  # a large site and a small one
WAVE = Wave.BASELINE
SCALE = 0.2  # site-north about 85 baseline responses, site-plains about 18
STEP_TIMEOUT_S = 60  # for the processor to count one response
TIMEOUT_S = 180


# --- the two recordings -------------------------------------------------------------------


class Changes:
    """Wakes whoever waits for a condition each time a recording grows."""

    def __init__(self) -> None:
        self._condition = asyncio.Condition()

    async def notify(self) -> None:
        async with self._condition:
            self._condition.notify_all()

    async def until(self, predicate, *, timeout: float, what: str, alive=lambda: True) -> None:
        async def wait() -> None:
            async with self._condition:
                while not predicate():
                    assert alive(), f"a service exited while waiting for {what}"
                    with contextlib.suppress(TimeoutError):  # wakes to check `alive`
                        await asyncio.wait_for(self._condition.wait(), 5.0)

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}") from None


@dataclass
class TopicRecording:
    """Every record of the benchmarks topic, with the moment this reader got it."""

    follower: BenchmarksFollower
    changes: Changes
    seen_at: list[float] = field(default_factory=list)  # monotonic, one per record

    async def run(self) -> None:
        while True:
            count = await self.follower.poll(timeout_ms=100)
            if count:
                now = time.monotonic()
                self.seen_at.extend([now] * count)
                await self.changes.notify()

    def received(self) -> dict[tuple[str, str], int]:
        return self.follower.received()

    def first_seen(self) -> dict[tuple[str, int], float]:
        """When each release (scope, number) first reached this reader."""
        seen: dict[tuple[str, int], float] = {}
        # Not strict: the reader task may have added records and not yet their moment.
        for record, at in zip(self.follower.records, self.seen_at, strict=False):
            if record.release is not None:
                seen.setdefault((record.release.scope, record.release.number), at)
        return seen


@dataclass
class WatchRecording:
    """Every Watch message, and the releases they show: each scope's cells as of each release
    status received (cells changed and withdrawn keys applied first; the statuses of a version
    come with its last message)."""

    changes: Changes
    messages: list[query_pb2.WatchResponse] = field(default_factory=list)
    cells: dict[str, Cell] = field(default_factory=dict)
    releases: list[Release] = field(default_factory=list)
    latest_status: dict[str, tuple[int, dict[str, int]]] = field(
        default_factory=dict
    )  # scope -> number, held back
    seen_at: dict[tuple[str, int], float] = field(default_factory=dict)

    async def run(self, stream) -> None:
        async for message in stream:
            self.take(message)
            await self.changes.notify()

    def take(self, message: query_pb2.WatchResponse) -> None:
        self.messages.append(message)
        for cell in message.cells:
            self.cells[cell.key] = cell_from_proto(cell)
        for key in message.withdrawn_keys:
            self.cells.pop(key, None)
        for status in message.releases:
            self.latest_status[status.scope] = (status.number, dict(status.held_back))
            if status.number == 0:
                continue  # no release of the scope shown
            release = Release(
                scope=status.scope,
                number=status.number,
                cut_at=status.cut_at.ToDatetime(tzinfo=UTC),
                as_of=status.as_of.ToDatetime(tzinfo=UTC),
                cells=tuple(
                    sorted(
                        (c for c in self.cells.values() if scope_of(c) == status.scope),
                        key=lambda c: c.key,
                    )
                ),
                covered=dict(status.covered),
                held_back=dict(status.held_back),
            )
            previous = next((r for r in reversed(self.releases) if r.scope == status.scope), None)
            if previous is None or (previous.number, previous.cells) != (
                release.number,
                release.cells,
            ):
                self.releases.append(release)
                self.seen_at.setdefault((release.scope, release.number), time.monotonic())

    def shown(self) -> dict[str, Cell]:
        return dict(self.cells)


# --- the trickle --------------------------------------------------------------------------


def sent_counts(responses: list[SurveyResponse]) -> dict[tuple[str, str], int]:
    """Distinct responses per (site, wave): what the releases' covered and held-back counts add up to."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for response in {r.event_id: r for r in responses}.values():
        counts[(response.site_id, Wave(response.wave).value)] += 1
    return dict(counts)


def describe(findings: list[Finding], releases: list[Release]) -> str:
    numbers = {(f.scope, n) for f in findings for n in f.releases}
    involved = [r for r in releases if (r.scope, r.number) in numbers]
    lines = [
        f"{f.kind.value} {f.scope} releases={f.releases} size={f.size} keys={f.keys}: {f.description}"
        for f in findings
    ]
    lines += [
        f"  release {r.scope} #{r.number} cut {r.cut_at:%H:%M:%S.%f} covered={dict(r.covered)} "
        f"held_back={dict(r.held_back)} cells={len(r.cells)}"
        for r in involved
    ]
    return "\n".join(lines)


def percentile_summary(values: list[float]) -> str:
    if not values:
        return "none"
    return f"median {statistics.median(values):.2f} s, worst {max(values):.2f} s over {len(values)}"


async def test_responses_trickled_one_at_a_time_leave_the_auditor_nothing(tmp_path):
    dataset = build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, scale=SCALE)
    trickle = sorted(
        (r for r in dataset.responses if r.site_id in SITES and r.wave == WAVE),
        key=lambda r: r.submitted_at,
    )
    per_site = {site: sum(1 for r in trickle if r.site_id == site) for site in SITES}
    assert per_site[SITES[0]] >= 60 and per_site[SITES[1]] >= 10, per_site

    keys = write_credentials(tmp_path, [site.site_id for site in dataset.sites])
    namespace = new_namespace()
    servers = bootstrap_servers()
    ports = {name: free_port() for name in ("ingest", "query")}
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": servers,
        "JEDI_TOPIC_NAMESPACE": namespace,
        "JEDI_CREDENTIALS_FILE": str(keys.path),
        "JEDI_METRICS_PORT": "0",
        "PYTHONUNBUFFERED": "1",
        "JEDI_MIN_CELL_SIZE": str(K),
        "JEDI_MIN_SITES": str(MIN_SITES),
    }
    services: list[ServiceProcess] = []
    tasks: list[asyncio.Task] = []
    try:
        ingest_process = ServiceProcess(
            "services.ingest",
            {**common, "JEDI_PORT": str(ports["ingest"])},
            tmp_path / "ingest.log",
        )
        services.append(ingest_process)
        await wait_serving(
            f"127.0.0.1:{ports['ingest']}", ingest_process
        )  # ingest creates the topics
        processor = ServiceProcess(
            "services.processor",
            {
                **common,
                "JEDI_STATE_DIR": str(tmp_path / "state"),
                "JEDI_APP_ID": f"{namespace}processor",
                "JEDI_WEB_ENABLED": "false",
                "JEDI_REGISTRY_CHECK_INTERVAL_S": "1",
                "JEDI_RELEASE_EVERY": "1s",
            },
            tmp_path / "processor.log",
        )
        services.append(processor)
        query_process = ServiceProcess(
            "services.query", {**common, "JEDI_PORT": str(ports["query"])}, tmp_path / "query.log"
        )
        services.append(query_process)
        await wait_serving(f"127.0.0.1:{ports['query']}", query_process)
        alive = lambda: all(service.running for service in services)  # noqa: E731

        changes = Changes()
        async with (
            open_channel(f"127.0.0.1:{ports['ingest']}") as ingest_channel,
            open_channel(f"127.0.0.1:{ports['query']}") as query_channel,
            BenchmarksFollower(servers, f"{namespace}jedi.benchmarks.v1") as follower,
        ):
            ingest = ingest_pb2_grpc.IngestServiceStub(ingest_channel)
            query = query_pb2_grpc.BenchmarkServiceStub(query_channel)
            coordinator = call_metadata(keys.coordinator)
            topic = TopicRecording(follower, changes)
            watch = WatchRecording(changes)
            # Both recorders run before anything is registered: they see every version there is.
            stream = query.Watch(query_pb2.WatchRequest(), metadata=coordinator)
            tasks += [asyncio.create_task(topic.run()), asyncio.create_task(watch.run(stream))]
            await changes.until(
                lambda: any(
                    m.phase == query_pb2.WATCH_PHASE_SNAPSHOT_COMPLETE for m in watch.messages
                ),
                timeout=30,
                what="the Watch snapshot",
            )

            await ingest.PutInstrument(
                ingest_pb2.PutInstrumentRequest(instrument=instrument_to_proto(dataset.instrument)),
                metadata=coordinator,
            )
            for site in dataset.sites:
                await ingest.PutSite(
                    ingest_pb2.PutSiteRequest(site=site_to_proto(site)), metadata=coordinator
                )
            reach_keys = [f"reach/{site.site_id}/community_partnerships" for site in dataset.sites]
            await changes.until(
                lambda: all(key in follower.view for key in reach_keys),
                timeout=120,
                what="the registry's releases",
                alive=alive,
            )

            # The trickle: one response per call, each site with its own key; the next one once the
            # processor has counted this one.
            sent: list[SurveyResponse] = []
            acked_at: list[datetime] = []  # wall clock, comparable with the releases' cut_at
            acked_mono: list[float] = []  # monotonic, comparable with when the reader got a release
            started = time.monotonic()
            counted_in: list[
                float
            ] = []  # seconds from each acknowledgement to the processor counting it
            for response in trickle:
                reply = await ingest.SubmitEvents(
                    ingest_pb2.SubmitEventsRequest(events=[event_to_proto(response)]),
                    metadata=call_metadata(keys.sites[response.site_id]),
                )
                assert (reply.accepted_count, reply.rejected_count) == (1, 0), reply
                acked_at.append(datetime.now(UTC))
                acked_mono.append(time.monotonic())
                sent.append(response)
                expected = sent_counts(sent)
                component = (response.site_id, WAVE.value)
                await changes.until(
                    lambda component=component, expected=expected: (
                        topic.received().get(component) == expected[component]
                    ),
                    timeout=STEP_TIMEOUT_S,
                    what=f"the processor to count response {len(sent)}",
                    alive=alive,
                )
                counted_in.append(time.monotonic() - acked_mono[-1])
            trickled_s = time.monotonic() - started

            # Everything received: the latest releases' covered + held back per wave equal what was sent,
            # and the Watch shows the topic's latest release of every scope with the same counts.
            await changes.until(
                lambda: topic.received() == sent_counts(sent),
                timeout=TIMEOUT_S,
                what="the processor to receive every response",
                alive=alive,
            )

            def watch_caught_up() -> bool:
                latest = latest_releases(follower.records)
                return all(
                    watch.latest_status.get(scope, (0, {}))[0] == release.number
                    for scope, release in latest.items()
                )

            await changes.until(
                watch_caught_up,
                timeout=60,
                what="the Watch to show the latest releases",
                alive=alive,
            )

            topic_releases = releases_of(follower.records)
            latest = latest_releases(follower.records)
            as_of = {release.as_of for release in latest.values()}
            assert len(as_of) == 1, as_of
            covered = covered_by(latest, sent)
            reference = released_reference(
                latest,
                dataset.sites,
                [dataset.instrument],
                covered,
                min_cell_size=K,
                min_sites=MIN_SITES,
                as_of=next(iter(as_of)),
            )
            topic_cells = {cell.key: cell for release in latest.values() for cell in release.cells}
            watch_latest = {
                r.scope: r for r in watch.releases
            }  # in arrival order: the last one of each scope
            watch_cells = {
                cell.key: cell for release in watch_latest.values() for cell in release.cells
            }
            topic_findings = audit(topic_releases, K, min_sites=MIN_SITES)
            watch_findings = audit(watch.releases, K, min_sites=MIN_SITES)
            topic_seen = topic.first_seen()
            watch_seen = dict(watch.seen_at)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        tasks.clear()
    except BaseException:
        for service in services:
            print(f"--- {service.module}\n{service.tail(40)}")
        raise
    finally:
        for task in tasks:
            task.cancel()
        for service in reversed(services):
            service.stop()

    # --- what the trickle produced ---
    report = [
        f"\ntrickle: {len(sent)} responses ({per_site}) one per call, each counted by the processor "
        f"before the next, in {trickled_s:.1f} s ({len(sent) / trickled_s:.1f} responses/s); "
        f"{len(follower.records)} topic records, {len(watch.messages)} Watch messages; "
        f"acknowledgement to counted by the processor: {percentile_summary(counted_in)}"
    ]
    site_releases: dict[str, list[Release]] = {}
    for site in SITES:
        versions = sorted(
            {r.number: r for r in topic_releases if r.scope == site_scope(site)}.values(),
            key=lambda r: r.number,
        )
        site_releases[site] = versions
        steps = [r.covered.get(WAVE.value, 0) for r in versions]
        report.append(
            f"  {site}: {len(versions)} releases; {WAVE.value} covered after each: {steps}; "
            f"{per_site[site] - latest[site_scope(site)].covered.get(WAVE.value, 0)} of its "
            f"{per_site[site]} responses held back at the end (Watch rebuilt "
            f"{sum(1 for r in watch.releases if r.scope == site_scope(site))} of them)"
        )

    # --- freshness: k-th new response of a release -> its cut; each response -> the release covering it ---
    index_of = defaultdict(list)  # site -> wall times of its acked responses, in order
    mono_of = defaultdict(list)
    for response, at, mono in zip(sent, acked_at, acked_mono, strict=True):
        index_of[response.site_id].append(at)
        mono_of[response.site_id].append(mono)
    kth, kth_seen, kth_watch, small, waits, uncovered = [], [], [], [], [], 0
    for site, versions in site_releases.items():
        times, monos = index_of[site], mono_of[site]
        total_key = f"response/{site}/{WAVE.value}/all/all"
        before = shown_at = (
            0  # covered by the last release, and by the last one showing the wave's total
        )
        for release in versions:
            now_covered = release.covered.get(WAVE.value, 0)
            if now_covered > before:
                shown = total_key in release.by_key()
                if shown and now_covered >= shown_at + K:
                    # The k-th response after the last shown state: from then on a release could show it.
                    kth.append((release.cut_at - times[shown_at + K - 1]).total_seconds())
                    for seen_at, into in ((topic_seen, kth_seen), (watch_seen, kth_watch)):
                        if (release.scope, release.number) in seen_at:
                            into.append(
                                seen_at[(release.scope, release.number)] - monos[shown_at + K - 1]
                            )
                    shown_at = now_covered
                else:  # a release covering more without showing the wave (fewer than k so far)
                    small.append((release.cut_at - times[now_covered - 1]).total_seconds())
                waits += [(release.cut_at - at).total_seconds() for at in times[before:now_covered]]
                before = now_covered
        uncovered += len(times) - before
    report.append(
        f"  freshness, k-th new response acknowledged -> cut of the release covering it "
        f"(steps of k or more): {percentile_summary(kth)}"
    )
    report.append(
        f"  freshness, the same, -> release read off the topic: {percentile_summary(kth_seen)}; "
        f"-> release status on the Watch: {percentile_summary(kth_watch)}"
    )
    report.append(
        f"  releases covering more of a wave without showing its total, last response -> cut: "
        f"{percentile_summary(small)}"
    )
    report.append(
        f"  wait of each response until the first release covering it: {percentile_summary(waits)}; "
        f"{uncovered} never covered (held back at the end)"
    )
    report.append(
        f"  auditor: {len(topic_findings)} findings over {len(topic_releases)} topic releases, "
        f"{len(watch_findings)} over {len(watch.releases)} releases rebuilt from the Watch"
    )
    print("\n".join(report))

    assert topic_findings == [], describe(topic_findings, topic_releases)
    assert watch_findings == [], describe(watch_findings, watch.releases)
    expected_cells = reference.by_key()
    assert topic_cells == expected_cells, _difference(expected_cells, topic_cells)
    assert watch_cells == expected_cells, _difference(expected_cells, watch_cells)
    assert watch.shown() == expected_cells, _difference(expected_cells, watch.shown())
    assert len({r.covered.get(WAVE.value, 0) for r in site_releases[SITES[0]]} - {0}) >= 2, (
        "the trickle cut at least two releases of the large site's wave"
    )
    # What the Watch showed is what the topic holds: every release it rebuilt is a topic release, cell
    # for cell (a slow subscriber may skip versions, never invent one).
    by_number = {(r.scope, r.number): r for r in topic_releases}
    assert watch.releases and all(
        by_number[(r.scope, r.number)].cells == r.cells for r in watch.releases
    )
    # And `jedi audit` over the same topic agrees.
    audited = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "audit",
            "--bootstrap-servers",
            servers,
            "--topic-namespace",
            namespace,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    print(audited.stdout)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert f"records: {len(follower.records)} read" in audited.stdout


def _difference(expected: dict[str, Cell], shown: dict[str, Cell]) -> str:
    missing, extra = sorted(set(expected) - set(shown)), sorted(set(shown) - set(expected))
    differ = sorted(key for key in set(expected) & set(shown) if expected[key] != shown[key])
    return f"missing {len(missing)} {missing[:5]}, unexpected {len(extra)} {extra[:5]}, different {len(differ)} {differ[:5]}"
