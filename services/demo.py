"""`python -m services.demo`: the platform end to end on the local broker.

Registers the demo instrument and sites as a coordinator, pushes each simulated site's
survey responses and intervention events through ingest with that site's own key, waits
until the query service serves, in every cell, what the batch reference computes over the events
its releases cover, then prints the releases, a coordinator's comparison table and one site's
scorecard as read from the query service.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from jedi.v1 import ingest_pb2, ingest_pb2_grpc
from services.demo_check import print_demo_report, site_events
from shared.clients import call_metadata, open_channel
from shared.convert import event_to_proto, instrument_to_proto, site_to_proto
from shared.demo_dataset import DemoDataset, build_demo_dataset
from shared.domain.sample_instrument import JEDI_CULTURE

BATCH = 500
# A fixed 'now' keeps the dataset, and so its event ids, the same on every run: running the
# demo again is answered with duplicates instead of counting anything twice.
DATASET_NOW = datetime(2026, 11, 20, tzinfo=UTC)


def parse_keys(path: Path) -> dict[str, str]:
    """`JEDI_KEY_SITE_NORTH=...` lines → {"site-north": key, "coordinator": key}."""
    keys = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        if name.startswith("JEDI_KEY_"):
            keys[name.removeprefix("JEDI_KEY_").lower().replace("_", "-")] = value.strip()
    return keys


async def register(
    stub: ingest_pb2_grpc.IngestServiceAsyncStub, dataset: DemoDataset, coordinator_key: str
) -> None:
    metadata = call_metadata(coordinator_key)
    await stub.PutInstrument(
        ingest_pb2.PutInstrumentRequest(instrument=instrument_to_proto(dataset.instrument)),
        metadata=metadata,
    )
    for site in dataset.sites:
        await stub.PutSite(ingest_pb2.PutSiteRequest(site=site_to_proto(site)), metadata=metadata)


async def push_site(
    stub: ingest_pb2_grpc.IngestServiceAsyncStub, dataset: DemoDataset, site_id: str, key: str
) -> tuple[int, int, int]:
    events = site_events(dataset, site_id)
    accepted = duplicates = rejected = 0
    for start in range(0, len(events), BATCH):
        batch = [event_to_proto(event) for event in events[start : start + BATCH]]
        reply = await stub.SubmitEvents(
            ingest_pb2.SubmitEventsRequest(events=batch), metadata=call_metadata(key), timeout=60
        )
        accepted += reply.accepted_count
        duplicates += reply.duplicate_count
        rejected += reply.rejected_count
    return accepted, duplicates, rejected


async def run(arguments: argparse.Namespace) -> int:
    keys = parse_keys(arguments.keys)
    dataset = build_demo_dataset(JEDI_CULTURE, now=DATASET_NOW, seed=arguments.seed)
    print(
        f"demo: {len(dataset.sites)} sites, {len(dataset.responses)} survey responses, "
        f"{len(dataset.interventions)} intervention events"
    )
    async with open_channel(arguments.ingest) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        await register(stub, dataset, keys["coordinator"])
        started = time.perf_counter()
        for site in dataset.sites:
            accepted, duplicates, rejected = await push_site(
                stub, dataset, site.site_id, keys[site.site_id]
            )
            print(
                f"  {site.site_id:<12} pushed with its own key: {accepted} accepted, "
                f"{duplicates} duplicates, {rejected} rejected"
            )
        print(f"demo: pushed in {time.perf_counter() - started:.1f} s; waiting for the benchmarks")
    return await print_demo_report(
        arguments.query,
        keys["coordinator"],
        keys[arguments.site],
        arguments.site,
        dataset,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--ingest", default="127.0.0.1:50051")
    parser.add_argument("--query", default="127.0.0.1:50061")
    parser.add_argument("--keys", type=Path, default=Path(".local/demo-keys.env"))
    parser.add_argument("--site", default="site-north", help="whose scorecard to print")
    parser.add_argument("--seed", type=int, default=2026)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
