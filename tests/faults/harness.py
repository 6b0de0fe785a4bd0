"""What the fault-injection runs share: ingest as a real process, sites pushing through it as
clients do (retrying UNAVAILABLE with backoff, remembering what was acknowledged), what the topics
hold, and the figures each run adds to the table `make test-faults` prints."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from jedi.v1 import ingest_pb2, ingest_pb2_grpc
from services.local_process import ServiceProcess
from shared.clients import call_metadata, open_channel
from shared.convert import event_to_proto, instrument_to_proto, site_to_proto
from shared.demo_dataset import DemoDataset
from shared.topics import Topics
from tests.support.credentials import TestKeys
from tests.support.ingest import arrival_order
from tests.support.kafka import bootstrap_servers, read_topic
from tests.support.platform import free_port, grpc_serving, wait_until
from tests.support.published import Event

RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


@dataclass
class Figures:
    """One row of the table: what a run injected, sent and found."""

    scenario: str
    faults: int = 0
    sent: int = 0
    acknowledged: int = 0
    present: int = 0  # distinct event ids on the event topics
    counted: int = 0  # events the processor received (covered + held back), by its releases
    covered: int = 0  # events the latest releases cover
    duplicates: int = 0  # records on the event topics beyond one per event id
    counted_twice: int = 0
    audits: int = 0  # comparisons with the batch reference, and privacy audits of every release
    inputs: int = 0  # malformed or random inputs tried
    notes: list[str] = field(default_factory=list)


def start_ingest(
    tmp_path: Path, namespace: str, keys: TestKeys, name: str = "ingest", **settings: object
) -> tuple[ServiceProcess, str]:
    port = free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers(),
        "JEDI_TOPIC_NAMESPACE": namespace,
        "JEDI_CREDENTIALS_FILE": str(keys.path),
        "JEDI_PORT": str(port),
        "JEDI_LOG_LEVEL": "INFO",
    }
    env.update({f"JEDI_{key.upper()}": str(value) for key, value in settings.items()})
    return ServiceProcess("services.ingest", env, tmp_path / f"{name}.log"), f"127.0.0.1:{port}"


async def wait_serving(address: str, process: ServiceProcess, timeout: float = 120) -> None:
    await wait_until(lambda: grpc_serving(address), f"{address} SERVING", process, timeout)


async def register(address: str, keys: TestKeys, dataset: DemoDataset) -> None:
    async with open_channel(address) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        metadata = call_metadata(keys.coordinator)
        await stub.PutInstrument(
            ingest_pb2.PutInstrumentRequest(instrument=instrument_to_proto(dataset.instrument)),
            metadata=metadata,
            timeout=60,
        )
        for site in dataset.sites:
            await stub.PutSite(
                ingest_pb2.PutSiteRequest(site=site_to_proto(site)), metadata=metadata, timeout=60
            )


@dataclass
class Pushed:
    """What the site clients were told."""

    acknowledged: set[str] = field(default_factory=set)  # ACCEPTED or DUPLICATE
    accepted: int = 0
    duplicates: int = 0
    unavailable: int = 0  # calls answered UNAVAILABLE (or past their deadline), then retried
    calls: int = 0


async def push_sites(
    address: str,
    keys: TestKeys,
    events: Sequence[Event],
    pushed: Pushed,
    *,
    batch: int = 50,
    retry_for_s: float = 240,
    seed: int = 0,
) -> None:
    """Every site at once, each over its own channel with its own key, its events in arrival
    order in batches of random sizes up to `batch`; an UNAVAILABLE batch is resent after an
    exponential backoff (capped at 4 s), for up to `retry_for_s`."""
    by_site: dict[str, list[Event]] = {}
    for event in arrival_order(events):
        by_site.setdefault(event.site_id, []).append(event)
    rng = random.Random(seed)
    sizes = {site: rng.randint(max(1, batch // 4), batch) for site in by_site}
    await asyncio.gather(
        *(
            _push_site(address, keys.sites[site], site_events, sizes[site], pushed, retry_for_s)
            for site, site_events in by_site.items()
        )
    )


async def _push_site(
    address: str,
    key: str,
    events: list[Event],
    batch: int,
    pushed: Pushed,
    retry_for_s: float,
) -> None:
    loop = asyncio.get_running_loop()
    async with open_channel(address) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        for start in range(0, len(events), batch):
            part = events[start : start + batch]
            request = ingest_pb2.SubmitEventsRequest(events=[event_to_proto(e) for e in part])
            deadline, attempt = loop.time() + retry_for_s, 0
            while True:
                pushed.calls += 1
                try:
                    reply = await stub.SubmitEvents(
                        request, metadata=call_metadata(key), timeout=30
                    )
                    break
                except grpc.aio.AioRpcError as error:
                    if error.code() not in RETRYABLE or loop.time() > deadline:
                        raise
                    pushed.unavailable += 1
                    await asyncio.sleep(min(4.0, 0.25 * 2**attempt))  # the client's backoff
                    attempt += 1
            for result in reply.results:
                if result.status == ingest_pb2.EVENT_STATUS_REJECTED:
                    raise AssertionError(f"ingest rejected {part[result.index]}: {result}")
                pushed.acknowledged.add(part[result.index].event_id)
                if result.status == ingest_pb2.EVENT_STATUS_DUPLICATE:
                    pushed.duplicates += 1
                else:
                    pushed.accepted += 1


async def stored_event_ids(topics: Topics) -> Counter[str]:
    """How many records each event id has on the two event topics."""
    ids: Counter[str] = Counter()
    for topic in (topics.survey_responses.name, topics.interventions.name):
        for record in await read_topic(bootstrap_servers(), topic):
            ids[dict(record.headers)["event-id"].decode()] += 1
    return ids
