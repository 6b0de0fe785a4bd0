"""End to end: sites → ingest (gRPC) → Kafka → `python -m services.processor` → benchmarks topic.

A realistic collaborative (13 sites, two waves, several thousand survey responses, every kind
of intervention) goes through the real ingest service and a real processor process on the
local broker. Once the processor has received every event and the benchmarks topic is quiet,
the cells of the latest releases equal the batch reference `compute_benchmarks` over the events
those releases cover, for the `as_of` they carry; no release ever written to it could reveal
fewer than k people (the auditor reads them all), the releases carry the trace of the
submissions they come from, and records ingest would have refused are dead-lettered.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from opentelemetry import trace

from shared.convert import survey_response_to_proto
from shared.demo_dataset import build_demo_dataset
from shared.domain.sample_instrument import JEDI_CULTURE
from shared.kafka import make_producer
from shared.telemetry import inject_trace_headers
from tests.support.benchmarks_follower import BenchmarksFollower
from tests.support.ingest import DATASET_NOW, arrival_order, running_ingest, submit_events
from tests.support.kafka import bootstrap_servers, new_namespace, read_topic
from tests.support.privacy import privacy_violations
from tests.support.processor_process import ProcessorProcess, processor_env
from tests.support.published import releases_of

tracer = trace.get_tracer(__name__)
SCALE = 0.65  # about 3,500 survey responses and 450 intervention events
TIMEOUT_S = 240


@pytest.fixture(scope="module")
def dataset():
    return build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, scale=SCALE)


async def publish_bad_records(topics) -> tuple[list[str], str]:
    """Records ingest would have refused, written straight to the event topics: the processor
    must dead-letter them, not count them. Returns their event ids and the trace they were sent in."""
    unknown = replace(
        build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, scale=0.01, seed=7).responses[0],
        instrument_id="ghost-survey",
        site_id="site-north",
    )
    producer = make_producer(bootstrap_servers())
    await producer.start()
    try:
        with tracer.start_as_current_span("test-producer") as span:
            headers = inject_trace_headers()
            await producer.send_and_wait(
                topics.survey_responses.name,
                b"\xffnot a response",
                key=b"site-north",
                headers=[*headers, ("event-id", b"garbage-1")],
            )
            await producer.send_and_wait(
                topics.survey_responses.name,
                survey_response_to_proto(unknown).SerializeToString(),
                key=b"site-north",
                headers=[*headers, ("event-id", unknown.event_id.encode())],
            )
    finally:
        await producer.stop()
    return ["garbage-1", unknown.event_id], format(span.get_span_context().trace_id, "032x")


async def test_the_benchmarks_topic_equals_the_batch_reference(tmp_path, dataset, span_exporter):
    servers = bootstrap_servers()
    namespace = new_namespace()
    processor = ProcessorProcess(
        processor_env(
            namespace=namespace,
            state_dir=tmp_path / "state",
            servers=servers,
            registry_check_interval_s=1,
        ),
        tmp_path / "processor.log",
    )
    events = arrival_order([*dataset.responses, *dataset.interventions])
    assert len(dataset.responses) > 3000 and len(dataset.sites) == 13
    assert (
        len({type(event.detail) for event in dataset.interventions}) == 9
    )  # every intervention kind
    started = time.monotonic()
    try:
        async with (
            running_ingest(tmp_path, namespace=namespace, dataset=dataset) as ingest,
            BenchmarksFollower(servers, ingest.topics.benchmarks.name) as topic,
        ):
            processor.start()
            # The registry first, as a collaborative starts: every site's (empty) reach cells appear.
            await topic.wait_for_registry(dataset.sites, timeout=60)
            ready = time.monotonic()
            assert await submit_events(ingest, events) == len(events)
            bad, bad_trace = await publish_bad_records(ingest.topics)
            pushed = time.monotonic()
            await topic.wait_for(
                dataset.sites,
                [dataset.instrument],
                events,
                processor=processor.topics,
                timeout=TIMEOUT_S,
                alive=lambda: processor.running,
            )
            finished = time.monotonic()
            assert any(key.startswith("distribution/") for key in topic.view)
            assert any(key.startswith("rank/") for key in topic.view)
            assert privacy_violations(releases_of(topic.records), 10, min_sites=10) == []
            # One trace from the site's call to ingest, through the processor, to each cell.
            trace.get_tracer_provider().force_flush()
            calls = {
                format(span.context.trace_id, "032x")
                for span in span_exporter.get_finished_spans()
                if span.name
                in ("/jedi.v1.IngestService/SubmitEvents", "/jedi.v1.IngestService/PutSite")
            }  # a site record also cuts a release
            traces = {record.trace_id for record in topic.records if record.release is not None}
            # Releases cut by the registry forwarder's refresh carry its own traces: only require
            # that the ingest calls' traces reach the topic.
            assert traces & calls
            letters = await read_topic(servers, ingest.topics.deadletter.name)
            assert sorted(dict(r.headers)["event-id"].decode() for r in letters) == sorted(bad)
            reasons = " ".join(dict(r.headers)["deadletter-reason"].decode() for r in letters)
            assert "unknown instrument ghost-survey" in reasons and "SurveyResponse" in reasons
        print(
            f"\ne2e: processor ready in {ready - started:.1f} s, "
            f"{len(events)} events pushed in {pushed - ready:.1f} s, "
            f"benchmarks complete {finished - pushed:.1f} s later; {len(topic.records)} records written"
        )
    except BaseException:
        print(processor.log_tail(60))
        raise
    finally:
        assert processor.terminate() == 0, processor.log_tail()
