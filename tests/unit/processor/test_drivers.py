"""The drivers' duties beyond exactness: dead letters, a new day's as_of, and trace context."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from opentelemetry import trace

from shared.convert import survey_response_to_proto
from shared.domain.model import GroupDimension
from shared.telemetry import inject_trace_headers

from tests.support.processor import MemoryPipeline, event_records, latest, site_change_records
from tests.unit.domain.factories import AS_OF, INSTRUMENT, response, site
from tests.unit.processor.test_pipeline import SITES, reference

tracer = trace.get_tracer(__name__)


def headers_of(records, name):
    return [dict(headers).get(name) for _, _, headers in records]


async def test_events_the_core_refuses_are_dead_lettered_once_with_the_reason():
    good = [response({"B1": 4}, site_id="s1") for _ in range(12)]
    unknown_instrument = replace(response({"B1": 4}, site_id="s1"), instrument_id="other")
    out_of_range = response({"B1": 7}, site_id="s1")
    pipeline = MemoryPipeline([INSTRUMENT], AS_OF, min_cell_size=1, min_sites=1)
    records = event_records([*good, unknown_instrument, out_of_range], pipeline.site_topics)
    garbage = replace(records[0], value=b"\xffnot a response", headers=[("event-id", b"garbage-1")], offset=99)
    records = [*site_change_records([SITES[0]]), *records, garbage]
    await pipeline.feed(records)
    await pipeline.feed(records)  # replayed: each is dead-lettered once, each good event counted once
    letters = pipeline.dead_letters()
    reasons = [value.decode() for value in headers_of(letters, "deadletter-reason")]
    assert len(letters) == 3 and pipeline.site_driver._instruments.refreshes >= 1
    assert any("unknown instrument other" in reason for reason in reasons)
    assert any("1..5" in reason for reason in reasons)
    assert any("SurveyResponse" in reason for reason in reasons)
    assert headers_of(letters, "deadletter-topic") == [pipeline.site_topics.survey_responses.encode()] * 3
    original = survey_response_to_proto(unknown_instrument).SerializeToString()
    assert [value for key, value, _ in letters][:1] == [original]
    expected = reference([SITES[0]], [INSTRUMENT], good, k=1, min_sites=1)
    assert {key: r.cell for key, r in latest(pipeline.published()).items()} == expected.by_key()


async def test_a_new_day_publishes_every_cell_again_for_it():
    events = [response({"B1": 1 + i % 5, "S1": 4}, site_id=f"s{1 + i % 3}",
                       groups={GroupDimension.URIM: "yes" if i % 4 else "no"}) for i in range(90)]
    sites = SITES[:3]
    pipeline = MemoryPipeline([INSTRUMENT], AS_OF, min_cell_size=5, min_sites=2)
    await pipeline.feed([*site_change_records(sites), *event_records(events, pipeline.site_topics)])
    next_day = datetime(2026, 7, 1, tzinfo=timezone.utc)
    pipeline.as_of = next_day
    await pipeline.feed(site_change_records(sites))  # what the leader's timer forwards at midnight
    view = latest(pipeline.published())
    assert {record.as_of for record in view.values()} == {next_day}
    assert any(key.startswith("distribution/") for key in view)
    expected = reference(sites, [INSTRUMENT], events, k=5, min_sites=2, as_of=next_day)
    assert {key: r.cell for key, r in view.items()} == expected.by_key()


async def test_the_processor_continues_each_producers_trace_and_passes_it_on(span_exporter):
    events = [response({"B1": 4, "S1": 2}, site_id=site_id) for site_id in ("s1", "s2") for _ in range(12)]
    pipeline = MemoryPipeline([INSTRUMENT], AS_OF, min_cell_size=5, min_sites=2)
    with tracer.start_as_current_span("ingest") as ingest:
        producer_headers = inject_trace_headers()
    producer = ingest.get_span_context()
    records = [replace(r, headers=[*r.headers, *producer_headers]) for r in event_records(events, pipeline.site_topics)]
    await pipeline.feed([*site_change_records([site("s1", resident=20), site("s2", resident=20)]), *records])
    trace.get_tracer_provider().force_flush()
    ids = {event.event_id for event in events}
    applied = [s for s in span_exporter.get_finished_spans() if s.name == "processor.apply"
               and s.attributes.get("jedi.event_id") in ids]
    assert len(applied) == len(events)
    assert {(s.context.trace_id, s.parent.span_id) for s in applied} == {(producer.trace_id, producer.span_id)}
    trace_id = format(producer.trace_id, "032x")
    for topic in ("benchmarks", "site-summaries"):
        parents = headers_of(pipeline.topics[topic].records, "traceparent")
        assert parents and all(trace_id in value.decode() for value in parents), topic
    cross_site = [h for k, _, h in pipeline.topics["benchmarks"].records if k.startswith((b"distribution/", b"rank/"))]
    assert cross_site and all(trace_id in dict(h)["traceparent"].decode() for h in cross_site)
