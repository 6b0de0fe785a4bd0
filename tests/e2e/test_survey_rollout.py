"""End to end, a month's survey as it really arrives, released on a calendar and at its close.

One site (the demo's largest) runs its baseline survey for 30 days: a burst after the
invitation, smaller bursts after two reminders, a trickle and a tail, about 250 responses with
the demo's skewed roles and departments, group dimensions and experience items
(`shared.demo_dataset.rollout`). Ingest, the processor and a reader of the benchmarks topic run
for real on the local broker. The calendar is compressed: a scheduled release time every second
(`JEDI_RELEASE_EVERY=1s`) stands for a day, and each day's responses are pushed once the previous
day's are counted and every wave holding k or more has been released. The wave closes after the
last day.

Then: every release passes the auditor; the release after the close covers every response but
fewer than k; and it shows at least 90 % of the cells that one upload of the same responses would
show (the batch reference over them). The test prints both figures, and how many cells the close
hid only because of earlier releases.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from shared.demo_dataset import DemoDataset, build_demo_dataset, rollout
from shared.domain.audit import audit
from shared.domain.benchmarks import compute_benchmarks
from shared.domain.model import Wave, WaveWindow
from shared.domain.releases import site_scope
from shared.domain.sample_instrument import JEDI_CULTURE
from tests.support.benchmarks_follower import BenchmarksFollower, nothing_missing
from tests.support.ingest import running_ingest, submit_events
from tests.support.kafka import bootstrap_servers, new_namespace
from tests.support.processor_process import ProcessorProcess, processor_env
from tests.support.published import latest_releases, releases_of
from tests.support.waiting import eventually

K = 10
WAVE = Wave.BASELINE
SECONDS_TO_CLOSE = 110  # after the push of the last day: the wave's close, in wall-clock time


async def test_a_month_of_responses_is_released_on_the_calendar_and_whole_at_the_close(tmp_path):
    now = datetime.now(UTC)
    opens_at = (now - timedelta(days=31)).replace(microsecond=0)
    closes_at = now + timedelta(seconds=SECONDS_TO_CLOSE)
    instrument = dataclasses.replace(JEDI_CULTURE, waves=(WaveWindow(WAVE, opens_at, closes_at),))
    demo = build_demo_dataset(JEDI_CULTURE, now=now, scale=0.1)
    site = demo.sites[0]
    days = rollout(site, instrument, WAVE, opens_at=opens_at)
    responses = [response for day in days for response in day]
    assert 230 <= len(responses) <= 270
    dataset = DemoDataset((site,), instrument, tuple(responses), ())
    servers, namespace = bootstrap_servers(), new_namespace()
    processor = ProcessorProcess(
        processor_env(
            namespace=namespace,
            state_dir=tmp_path / "state",
            servers=servers,
            registry_check_interval_s=1,
            min_cell_size=K,
        ),
        tmp_path / "processor.log",
    )
    scope = site_scope(site.site_id)
    async with (
        running_ingest(tmp_path, namespace=namespace, dataset=dataset) as ingest,
        BenchmarksFollower(servers, ingest.topics.benchmarks.name) as topic,
    ):
        processor.start()
        try:
            await topic.wait_for_registry([site], timeout=60)
            sent = 0
            for day in days:
                if day:
                    sent += await submit_events(ingest, day)

                async def day_done(expected: int = sent) -> str:
                    assert processor.running, "the processor exited"
                    await topic.read_to_end()
                    received = topic.received().get((site.site_id, WAVE.value), 0)
                    release = latest_releases(topic.records).get(scope)
                    waiting = expected - (release.covered.get(WAVE.value, 0) if release else 0)
                    if received != expected or waiting >= K:
                        return f"received {received} of {expected}, {waiting} waiting"
                    return ""

                await eventually(
                    day_done,
                    60,
                    what="the day's responses counted and released",
                    until=nothing_missing,
                )

            async def closed() -> str:
                await topic.read_to_end()
                release = latest_releases(topic.records).get(scope)
                if release is None or release.cut_at < closes_at:
                    return f"last release cut at {release.cut_at if release else None}"
                return ""

            await eventually(
                closed,
                SECONDS_TO_CLOSE + 60,
                what="the release at the close",
                until=nothing_missing,
            )
        finally:
            processor.terminate()
        site_releases = [r for r in releases_of(topic.records) if r.scope == scope]
        assert audit(releases_of(topic.records), K) == []
        final = latest_releases(topic.records)[scope]
        covered = final.covered.get(WAVE.value, 0)
        assert 0 <= len(responses) - covered < K
        one_upload = compute_benchmarks(
            [site],
            [instrument],
            responses[:covered],
            [],
            min_cell_size=K,
            min_sites=10,
            as_of=final.as_of,
        )
        expected = {cell.key for cell in one_upload.cells if cell.key.split("/")[1] == site.site_id}
        shown = {cell.key for cell in final.cells} & expected
        share = len(shown) / len(expected)
        interim = [r for r in site_releases if r.cut_at < closes_at]
        print(
            f"\nrollout: {len(responses)} responses over {len(days)} days, {len(interim)} interim "
            f"releases covering {[r.covered.get(WAVE.value, 0) for r in interim]}; the release at "
            f"the close covers {covered} ({len(responses) - covered} waiting) and shows "
            f"{len(shown)} of the {len(expected)} cells one upload shows ({share:.1%}); "
            f"{len(expected) - len(shown)} hidden only because of earlier releases"
        )
        assert share >= 0.9
        assert len(interim) >= 5
        assert final.closed == (WAVE.value,)  # what dashboards mark as the wave's result
        assert all(r.closed == () for r in interim)
