"""The drivers' duties beyond exactness: dead letters, a new day's as_of, trace context, lost
batches, and records Faust drops."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from opentelemetry import trace

from shared.convert import survey_response_to_proto
from shared.domain.cross_site import SiteScore
from shared.domain.model import Composite, GroupDimension, Wave
from shared.domain.publication.site_summary import SiteSummary, encode_summary
from shared.telemetry import inject_trace_headers
from tests.support.memory_pipeline import SUMMARIES, Crash, MemoryPipeline
from tests.support.published import latest, latest_releases
from tests.unit.domain.factories import AS_OF, INSTRUMENT, response, site
from tests.unit.processor.test_pipeline import SITES, covered_reference

tracer = trace.get_tracer(__name__)


def headers_of(records, name):
    return [dict(record.headers).get(name) for record in records]


def view(pipeline):
    return {key: record.cell for key, record in latest(pipeline.published()).items()}


async def test_events_the_core_refuses_are_dead_lettered_once_with_the_reason():
    good = [response({"B1": 4}, site_id="s1") for _ in range(12)]
    unknown_instrument = replace(response({"B1": 4}, site_id="s1"), instrument_id="other")
    out_of_range = response({"B1": 7}, site_id="s1")
    pipeline = MemoryPipeline([INSTRUMENT], AS_OF, min_cell_size=1, min_sites=1)
    pipeline.publish_sites([SITES[0]])
    pipeline.publish_events([*good, unknown_instrument, out_of_range])
    topic = pipeline.site_topics.survey_responses
    pipeline.publish_raw(topic, "s1", b"\xffnot a response", [("event-id", b"garbage-1")])
    pipeline.publish_events([unknown_instrument, *good[:3]])  # published again: dead-lettered once
    await pipeline.run()
    letters = pipeline.dead_letters()
    reasons = [value.decode() for value in headers_of(letters, "deadletter-reason")]
    assert len(letters) == 3 and pipeline.site_driver._instruments.refreshes >= 1
    assert any("unknown instrument other" in reason for reason in reasons)
    assert any("1..5" in reason for reason in reasons)
    assert any("SurveyResponse" in reason for reason in reasons)
    assert headers_of(letters, "deadletter-topic") == [topic.encode()] * 3
    assert letters[0].value == survey_response_to_proto(unknown_instrument).SerializeToString()
    assert (
        view(pipeline)
        == covered_reference(pipeline, [SITES[0]], [INSTRUMENT], k=1, min_sites=1).by_key()
    )


async def test_a_new_day_publishes_every_cell_again_for_it():
    events = [
        response(
            {"B1": 1 + i % 5, "S1": 4},
            site_id=f"s{1 + i % 3}",
            groups={GroupDimension.URIM: "yes" if i % 4 else "no"},
        )
        for i in range(90)
    ]
    sites = SITES[:3]
    pipeline = MemoryPipeline([INSTRUMENT], AS_OF, min_cell_size=5, min_sites=2)
    pipeline.publish_sites(sites)
    pipeline.publish_events(events)
    await pipeline.run()
    next_day = datetime(2026, 7, 1, tzinfo=UTC)
    pipeline.as_of = next_day
    pipeline.publish_sites(sites)  # what the leader's timer forwards at midnight
    await pipeline.run()
    shown = latest(pipeline.published())
    assert {record.as_of for record in shown.values()} == {next_day}
    assert any(key.startswith("distribution/") for key in shown)
    expected = covered_reference(pipeline, sites, [INSTRUMENT], k=5, min_sites=2, as_of=next_day)
    assert view(pipeline) == expected.by_key()


async def test_the_processor_continues_each_producers_trace_and_passes_it_on(span_exporter):
    events = [
        response({"B1": 4, "S1": 2}, site_id=site_id) for site_id in ("s1", "s2") for _ in range(12)
    ]
    pipeline = MemoryPipeline([INSTRUMENT], AS_OF, min_cell_size=5, min_sites=2)
    with tracer.start_as_current_span("ingest") as ingest:
        producer_headers = inject_trace_headers()
    producer = ingest.get_span_context()
    pipeline.publish_sites([site("s1", resident=20), site("s2", resident=20)])
    await pipeline.run()
    pipeline.publish_events(events, extra_headers=producer_headers)
    await pipeline.run()
    trace.get_tracer_provider().force_flush()
    ids = {event.event_id for event in events}
    applied = [
        s
        for s in span_exporter.get_finished_spans()
        if s.name == "processor.apply" and s.attributes.get("jedi.event_id") in ids
    ]
    assert len(applied) == len(events)
    assert {(s.context.trace_id, s.parent.span_id) for s in applied} == {
        (producer.trace_id, producer.span_id)
    }
    trace_id = format(producer.trace_id, "032x")

    def carry_the_trace(records):
        return any(
            trace_id in (parent or b"").decode() for parent in headers_of(records, "traceparent")
        )

    assert carry_the_trace(pipeline.log.records("benchmarks")) and carry_the_trace(
        pipeline.log.records(SUMMARIES)
    )
    cross_site = [r for r in pipeline.log.records("benchmarks") if r.key.startswith(b"cross-site/")]
    assert carry_the_trace(cross_site)


async def test_a_release_a_lost_batch_published_is_what_its_replay_is_gated_against():
    """A batch published a release, then the process died before storing the site's value: the
    replay, with one more response by then, must not cut a release that differs from the lost
    one by that single response (a reader may have kept the lost one)."""
    first = [response({"S1": 4}) for _ in range(30)]
    pipeline = MemoryPipeline([INSTRUMENT], AS_OF, min_cell_size=10, min_sites=1)
    await pipeline.site_driver.process(pipeline.publish_sites([SITES[0]]))
    batch = pipeline.publish_events(first)
    flushes = len(pipeline.outbox.attempted)
    pipeline.site_store.crash_when = lambda: (
        len(pipeline.outbox.attempted) > flushes
    )  # once Kafka has it
    with pytest.raises(Crash):
        await pipeline.site_driver.process(batch)
    lost = latest_releases(pipeline.published())["site/s1"]
    assert lost.covered == {"baseline": 30}
    pipeline.site_store.crash_when = lambda: False
    await pipeline.site_driver.process([*batch, *pipeline.publish_events([response({"S1": 2})])])
    replayed = latest_releases(pipeline.published())["site/s1"]
    # The replay publishes again under the next number (one number never names two different
    # releases), gated against what the lost one covered: the one new response waits.
    assert replayed.number == lost.number + 1 and replayed.covered == {"baseline": 30}
    assert replayed.cells == lost.cells and replayed.held_back == {"baseline": 1}


async def test_ranks_follow_the_sites_latest_summaries_after_a_lost_cross_site_batch():
    def summary(site_id, score=None):
        scores = (
            ()
            if score is None
            else (SiteScore(site_id, Wave.BASELINE, Composite.INCLUSION, score, score / 20),)
        )
        return pipeline.log.append(
            SUMMARIES, 0, site_id.encode(), encode_summary(SiteSummary(site_id, AS_OF, scores))
        )

    pipeline = MemoryPipeline([INSTRUMENT], AS_OF, min_sites=1)
    await pipeline.cross_driver.process([summary("s1", 60.0), summary("s2", 70.0)])
    batch = [summary("s3", 80.0)]
    flushes = len(pipeline.outbox.attempted)
    pipeline.group_store.crash_when = lambda: len(pipeline.outbox.attempted) > flushes
    with pytest.raises(Crash):
        await pipeline.cross_driver.process(batch)
    assert "rank/s3/baseline/inclusion/mean" in latest(pipeline.published())
    pipeline.group_store.crash_when = lambda: False
    await pipeline.cross_driver.process([*batch, summary("s3")])  # s3 left the registry meanwhile
    shown = latest(pipeline.published())
    assert not any(key.startswith("rank/s3/") for key in shown)
    assert shown["distribution/baseline/inclusion/percent_positive"].cell.sites == 2


async def test_records_the_consumer_skipped_are_read_again_before_anything_after_them():
    events = [response({"B1": 1 + i % 5}, site_id="s1") for i in range(20)]
    pipeline = MemoryPipeline([INSTRUMENT], AS_OF, min_cell_size=1, min_sites=1)
    records = [*pipeline.publish_sites([SITES[0]]), *pipeline.publish_events(events)]
    rewinds = []
    pipeline.site_driver._rewind = lambda offsets: _record(rewinds, offsets)
    await pipeline.site_driver.process(
        records[:1]
    )  # the site first: releases from the next time on
    await pipeline.site_driver.process([*records[:6], *records[9:]])  # Faust dropped three records
    assert rewinds == [
        {(pipeline.site_topics.survey_responses, records[6].partition): records[6].offset}
    ]
    assert "response/s1/baseline/all/all" in view(pipeline)
    assert (
        view(pipeline)["response/s1/baseline/all/all"].n == 5
    )  # nothing after the gap was applied
    await pipeline.site_driver.process(records[6:])  # read again from the gap
    await pipeline.site_driver.process(records)  # a replay of everything: all below the watermark
    await pipeline.run()
    assert (
        view(pipeline)
        == covered_reference(pipeline, [SITES[0]], [INSTRUMENT], k=1, min_sites=1).by_key()
    )


async def _record(calls, offsets):
    calls.append(dict(offsets))


async def test_progress_of_sites_without_a_scheduled_time_goes_out_before_the_releases_cut():
    """A batch publishes the progress of its sites that cannot cut a release first: counts since
    a release the reader already has, not held back while the other sites' releases are chosen."""
    pipeline = MemoryPipeline([INSTRUMENT], AS_OF, min_cell_size=1, min_sites=1)
    driver = pipeline.site_driver
    first = [*pipeline.publish_sites([SITES[0]]), *pipeline.publish_events([response({"B1": 4})])]
    await driver.process(first)  # s1 looks at its first scheduled time: its release waits
    second = [
        *pipeline.publish_events([response({"B1": 2}, site_id="s1")]),
        *pipeline.publish_sites([SITES[1]]),
        *pipeline.publish_events([response({"B1": 5}, site_id="s2")]),
    ]
    pipeline.outbox.attempted.clear()
    await driver.process(second)  # the next scheduled time: s1 cuts a release, s2 is new
    sent = pipeline.outbox.attempted[0]
    kinds = [("release" if r.release else "progress", r.key) for r in sent]
    assert kinds[0] == ("progress", "progress/site/s2"), kinds
    assert ("release", "site/s1") in kinds[1:]
