"""The whole platform as it runs in production: three service processes on real sockets.

Sites push their data with their own keys to `python -m services.ingest`; the benchmarks come
out of `python -m services.processor` and are read from `python -m services.query`, both as
answers and as a live Watch stream. Every service exposes /metrics and logs JSON without any
survey content.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from datetime import UTC

import pytest

from jedi.v1 import (
    benchmarks_pb2,
    common_pb2,
    ingest_pb2,
    ingest_pb2_grpc,
    query_pb2,
    query_pb2_grpc,
)
from shared.clients import call_metadata, open_channel
from shared.convert import event_to_proto, instrument_to_proto, site_to_proto
from shared.convert_benchmarks import cell_from_proto
from shared.domain.benchmark_set import Cell
from shared.domain.cells import CompositeCell
from shared.domain.model import InterventionEvent, SurveyResponse, Wave
from shared.domain.publication.reference import released_reference
from shared.domain.releases import covered_events, site_scope
from tests.support.credentials import write_credentials
from tests.support.ingest import demo_dataset
from tests.support.kafka import bootstrap_servers, new_namespace
from tests.support.platform import ServiceProcess, free_port, wait_serving

SITE = "site-north"
K = 10


def metrics_text(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        return reply.read().decode()


@pytest.fixture
async def platform(tmp_path):
    dataset = demo_dataset()
    keys = write_credentials(tmp_path, [site.site_id for site in dataset.sites])
    namespace = new_namespace()
    ports = {
        name: free_port()
        for name in (
            "ingest",
            "query",
            "ingest_metrics",
            "processor_metrics",
            "query_metrics",
            "processor_web",
        )
    }
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers(),
        "JEDI_TOPIC_NAMESPACE": namespace,
        "JEDI_CREDENTIALS_FILE": str(keys.path),
        "PYTHONUNBUFFERED": "1",
    }
    ingest = ServiceProcess(
        "services.ingest",
        {
            **common,
            "JEDI_PORT": str(ports["ingest"]),
            "JEDI_METRICS_PORT": str(ports["ingest_metrics"]),
        },
        tmp_path / "ingest.log",
    )
    services = [ingest]
    try:
        await wait_serving(f"127.0.0.1:{ports['ingest']}", ingest)  # ingest creates the topics
        services.append(
            ServiceProcess(
                "services.processor",
                {
                    **common,
                    "JEDI_STATE_DIR": str(tmp_path / "state"),
                    "JEDI_APP_ID": f"{namespace}processor",
                    "JEDI_METRICS_PORT": str(ports["processor_metrics"]),
                    "JEDI_WEB_PORT": str(ports["processor_web"]),
                    "JEDI_RELEASE_EVERY": "1s",
                },
                tmp_path / "processor.log",
            )
        )
        query = ServiceProcess(
            "services.query",
            {
                **common,
                "JEDI_PORT": str(ports["query"]),
                "JEDI_METRICS_PORT": str(ports["query_metrics"]),
            },
            tmp_path / "query.log",
        )
        services.append(query)
        await wait_serving(f"127.0.0.1:{ports['query']}", query)
        yield dataset, keys, ports, services
    finally:
        for service in reversed(services):
            service.stop()


async def test_sites_push_and_coordinators_and_dashboards_read_the_same_benchmarks(platform):
    dataset, keys, ports, services = platform
    baseline = [r for r in dataset.responses if r.site_id == SITE and r.wave is Wave.BASELINE]
    assert len(baseline) >= 10

    async with (
        open_channel(f"127.0.0.1:{ports['ingest']}") as ingest_channel,
        open_channel(f"127.0.0.1:{ports['query']}") as query_channel,
    ):
        ingest = ingest_pb2_grpc.IngestServiceStub(ingest_channel)
        query = query_pb2_grpc.BenchmarkServiceStub(query_channel)
        coordinator = call_metadata(keys.coordinator)
        await ingest.PutInstrument(
            ingest_pb2.PutInstrumentRequest(instrument=instrument_to_proto(dataset.instrument)),
            metadata=coordinator,
        )
        for site in dataset.sites:
            await ingest.PutSite(
                ingest_pb2.PutSiteRequest(site=site_to_proto(site)), metadata=coordinator
            )

        # A dashboard subscribes before any data arrives.
        watch = query.Watch(
            query_pb2.WatchRequest(site_id=SITE, wave=common_pb2.WAVE_BASELINE),
            metadata=call_metadata(keys.sites[SITE]),
        )
        watched: dict[str, Cell] = {}
        statuses: dict[str, benchmarks_pb2.ReleaseStatus] = {}

        async def follow() -> None:
            """Until the site's release covers its baseline, but fewer than k waiting."""
            async for message in watch:
                for key in message.withdrawn_keys:
                    watched.pop(key, None)
                for cell in message.cells:
                    watched[cell.key] = cell_from_proto(cell)
                for status in message.releases:
                    statuses[status.scope] = status
                released = statuses.get(site_scope(SITE))
                if released is not None and len(baseline) - released.covered.get("baseline", 0) < K:
                    return

        follower = asyncio.create_task(follow())

        # Each site pushes its own events with its own key, incidents in lifecycle order.
        pushed: list[SurveyResponse | InterventionEvent] = []
        for site in dataset.sites:
            events = sorted(
                (
                    e
                    for e in (*dataset.responses, *dataset.interventions)
                    if e.site_id == site.site_id
                ),
                key=lambda e: getattr(e, "occurred_at", None) or e.submitted_at,
            )
            pushed += events
            for start in range(0, len(events), 500):
                reply = await ingest.SubmitEvents(
                    ingest_pb2.SubmitEventsRequest(
                        events=[event_to_proto(e) for e in events[start : start + 500]]
                    ),
                    metadata=call_metadata(keys.sites[site.site_id]),
                )
                assert reply.rejected_count == 0, reply

        await asyncio.wait_for(follower, 180)  # the dashboard saw the site's release arrive
        watch.cancel()
        # The batch core over what that release covers, on the cells it shows.
        released = statuses[site_scope(SITE)]
        covered = covered_events({SITE: dict(released.covered)}, pushed)
        reference = released_reference(
            watched.keys(),
            [s for s in dataset.sites if s.site_id == SITE],
            [dataset.instrument],
            covered,
            min_cell_size=K,
            min_sites=10,
            as_of=released.as_of.ToDatetime(tzinfo=UTC),
        )
        expected = {
            cell.key: cell
            for cell in reference.of_type(CompositeCell)
            if cell.site_id == SITE and cell.wave is Wave.BASELINE
        }
        assert expected, "the site's release shows its baseline composites"
        assert {key: watched[key] for key in expected} == expected

        scorecard = await query.GetSiteScorecard(
            query_pb2.GetSiteScorecardRequest(site_id=SITE, wave=common_pb2.WAVE_BASELINE),
            metadata=coordinator,
        )
        served = {
            cell.key: cell_from_proto(cell)
            for composite in scorecard.composites
            for cell in (composite.total, *composite.breakdowns)
        }
        assert served == expected

    assert "jedi_ingest_events_total" in metrics_text(ports["ingest_metrics"])
    assert "jedi_ingest_rejections_total" in metrics_text(ports["ingest_metrics"])
    assert "jedi_ingest_publish_seconds_bucket" in metrics_text(ports["ingest_metrics"])
    # Every call is counted by the metrics interceptor, by RPC and status code.
    assert 'jedi_ingest_requests_total{code="OK",rpc="SubmitEvents"}' in metrics_text(
        ports["ingest_metrics"]
    )
    assert 'jedi_query_requests_total{code="OK",rpc="GetSiteScorecard"}' in metrics_text(
        ports["query_metrics"]
    )
    processor_metrics = metrics_text(ports["processor_metrics"])
    assert "jedi_processor_inputs_total" in processor_metrics
    assert "jedi_processor_consumer_lag" in processor_metrics
    query_metrics = metrics_text(ports["query_metrics"])
    assert "jedi_query_request_seconds_bucket" in query_metrics
    assert "jedi_query_watch_subscribers" in query_metrics

    for service in services:
        assert service.stop() == 0, "\n".join(service.log_lines()[-20:])
    item_codes = {item.code for item in dataset.instrument.items}
    for service in services:
        for line in service.log_lines():
            # No survey content in any log line: no answers, no item codes, no group values.
            assert not any(f'"{code}"' in line or f"'{code}'" in line for code in item_codes), line
            assert "answers" not in line, line
    ingest_lines = [json.loads(line) for line in services[0].log_lines() if line.startswith("{")]
    assert any(entry.get("event") == "ingest_serving" for entry in ingest_lines)
