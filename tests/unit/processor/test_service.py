"""The processor service's wiring, checked without a broker: settings, topics, topology, the day timer."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from services.processor.clock import day_start
from services.processor.faust.app import create_processor
from services.processor.faust.timers import RegistryForwarder
from services.processor.inputs import InputRecord
from services.processor.settings import ProcessorSettings
from services.processor.topics import ProcessorTopics
from services.processor.watchdog import StallWatchdog
from shared.settings import SettingsError, load_settings


def test_settings_come_from_the_environment():
    settings = load_settings(
        ProcessorSettings,
        {
            "KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092",
            "JEDI_TOPIC_NAMESPACE": "t.",
            "JEDI_MIN_CELL_SIZE": "5",
            "JEDI_TABLE_STORE": "memory",
            "JEDI_WEB_ENABLED": "false",
            "JEDI_BATCH_WINDOW_S": "0.2",
        },
    )
    assert (
        settings.min_cell_size,
        settings.table_store,
        settings.web_enabled,
        settings.batch_window_s,
    ) == (5, "memory", False, 0.2)
    with pytest.raises(SettingsError):
        load_settings(ProcessorSettings, {"JEDI_MIN_SITES": "many"})


def test_changelogs_and_internal_topics_are_compacted_and_never_deleted():
    topics = ProcessorTopics.of(ProcessorSettings(topic_namespace="t.", app_id="proc"))
    internal = [spec for spec in topics.all if spec.name.startswith("t.proc-")]
    assert {spec.name for spec in internal} == {
        "t.proc-site-changes",
        "t.proc-site-summaries",
        "t.proc-sites-changelog",
        "t.proc-groups-changelog",
    }
    for spec in internal:
        assert spec.config["cleanup.policy"] == "compact" and "retention.ms" not in spec.config
    partitions = {spec.name: spec.partitions for spec in topics.all}
    assert partitions["t.proc-sites-changelog"] == partitions["t.jedi.survey-responses.v1"] == 6
    assert partitions["t.proc-site-summaries"] == partitions["t.proc-groups-changelog"] == 1


def test_the_factory_builds_the_topology_without_touching_kafka(tmp_path):
    wiring = create_processor(
        ProcessorSettings(
            kafka_bootstrap_servers="nowhere:1",
            topic_namespace="t.",
            app_id="proc",
            state_dir=tmp_path,
            table_store="memory",
        )
    )
    app = wiring.app
    assert app.conf.id == "t.proc"
    assert set(app.agents) == {"site-stage", "cross-site-stage"}
    assert {table.name: table.partitions for table in app.tables.values()} == {
        "sites": 6,
        "groups": 1,
    }
    assert wiring.faust_topics.site_inputs.topics == (
        "t.jedi.survey-responses.v1",
        "t.jedi.interventions.v1",
        "t.proc-site-changes",
    )
    with pytest.raises(ValueError, match="JEDI_TABLE_STORE"):
        create_processor(ProcessorSettings(table_store="redis"))


def test_as_of_is_the_start_of_the_utc_day():
    assert day_start(datetime(2026, 3, 1, 23, 59, tzinfo=UTC)) == datetime(2026, 3, 1, tzinfo=UTC)


async def test_the_leader_forwards_new_registrations_and_every_site_when_the_day_changes():
    today = [datetime(2026, 3, 1, tzinfo=UTC)]
    forwarded: list[list[InputRecord]] = []
    sites = [InputRecord("sites", 0, offset, f"s{offset}".encode(), b"site") for offset in range(3)]

    async def read_sites():
        return list(sites)

    async def forward(records):
        forwarded.append([r.offset for r in records])

    forwarder = RegistryForwarder(read_sites=read_sites, forward=forward, today=lambda: today[0])
    assert await forwarder.check() == 3  # the first check after a start forwards every site
    assert await forwarder.check() == 0
    sites.append(InputRecord("sites", 0, 3, b"s3", b"site"))
    assert await forwarder.check() == 1
    today[0] = datetime(2026, 3, 2, tzinfo=UTC)
    assert await forwarder.check() == 4
    assert forwarded == [[0, 1, 2], [3], [0, 1, 2, 3]]


async def test_the_watchdog_reads_again_a_partition_stuck_behind_its_end_whose_records_stopped():
    now, seen = [100.0], {("events", 0): 100.0}
    lagging = {("events", 0): 5}
    busy = [False]
    rewinds = []

    async def rewind(offsets):
        rewinds.append(dict(offsets))

    watchdog = StallWatchdog(
        lagging=lambda: dict(lagging),
        rewind=rewind,
        seen_at=lambda tp: seen[tp],
        busy=lambda: busy[0],
        patience_s=10,
        clock=lambda: now[0],
    )
    assert not await watchdog.check()
    now[0], seen[("events", 0)] = 111.0, 105.0  # its records still come: it waits its turn
    assert not await watchdog.check()
    lagging[("events", 0)] = 7  # it moved: patience starts again
    now[0] = 115.0
    assert not await watchdog.check()
    now[0], busy[0] = 126.0, True  # never in the middle of a batch
    assert not await watchdog.check()
    busy[0] = False
    assert await watchdog.check() and rewinds == [{("events", 0): 7}]
    now[0] = 130.0  # the read again gets its patience before it is asked again
    assert not await watchdog.check()
    now[0] = 136.0  # and it is asked again if nothing came of it (a read again Faust lost)
    assert await watchdog.check() and rewinds[-1] == {("events", 0): 7}


async def test_a_partition_is_stalled_however_busy_other_partitions_keep_the_stage():
    """Issue 20's kill run: after a restart the event partitions' read again was lost while the
    site-changes ticks of every one-second release kept the stage at work. The old watchdog
    waited for an idle stage, which never came; the stalled partition is read again."""
    now = [0.0]
    seen = {("events", 0): 0.0, ("site-changes", 0): 0.0}
    lagging = {("events", 0): 116}
    rewinds = []

    async def rewind(offsets):
        rewinds.append(dict(offsets))

    watchdog = StallWatchdog(
        lagging=lambda: dict(lagging),
        rewind=rewind,
        seen_at=lambda tp: seen[tp],
        busy=lambda: False,
        patience_s=6,
        clock=lambda: now[0],
    )
    for second in range(1, 13):  # a tick batch every second; no event record comes
        now[0] = float(second)
        seen[("site-changes", 0)] = now[0]
        await watchdog.check()
    assert rewinds and rewinds[0] == {("events", 0): 116}


async def test_a_stage_is_busy_while_a_batch_runs_and_knows_when_each_partition_was_seen():
    """The watchdog reads a partition again only between batches (a batch can outlast its
    patience: a thousand sites' releases at a scheduled time), and only one whose own records
    stopped coming."""
    from services.processor.site_driver import SiteDriver
    from services.processor.stage_activity import StageActivity

    class Slow(SiteDriver):
        def __init__(self) -> None:
            self.activity = StageActivity(made_at=0.0)
            self.busy_during: list[bool] = []

        async def _process(self, records):
            self.busy_during.append(self.activity.busy())
            return []

    driver = Slow()
    before = time.monotonic()
    await driver.process([InputRecord("events", 3, 17, b"s1", b"")])
    assert driver.busy_during == [True] and not driver.activity.busy()
    assert driver.activity.last_seen_at(("events", 3)) >= before
    assert (
        driver.activity.last_seen_at(("events", 4)) == 0.0
    )  # never seen: since the stage was made
