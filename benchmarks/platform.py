"""The platform on the local broker for the benchmarks: services as real processes, and their clients.

Each service runs as `python -m services.<name>`, as scripts/services.sh starts them, on ports
chosen at run time and a topic namespace of its own, so a benchmark reads only what it wrote.
Readiness comes from health checks (gRPC `Check`, the processor's HTTP probe), never log text.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from aiokafka.admin import AIOKafkaAdminClient
from grpc_health.v1 import health_pb2, health_pb2_grpc

from benchmarks.dataset import Event
from benchmarks.progress import bar, say
from jedi.v1 import ingest_pb2, ingest_pb2_grpc
from services.local_process import ServiceProcess
from shared.auth import credentials_document, issue_credentials
from shared.clients import call_metadata, open_channel
from shared.convert import event_to_proto, instrument_to_proto, site_to_proto
from shared.demo_dataset import DemoDataset
from shared.event_records import event_record
from shared.kafka import make_producer
from shared.topics import Topics

BATCH = 500  # events per SubmitEvents call, as the demo and the push command send them
# The processor's release calendar (JEDI_RELEASE_EVERY): a scheduled release every 2 s, so that
# the bench measures to releases; JEDI_BENCH_RELEASE_EVERY sets another (e.g. "1h", for runs
# that cut no release during the load).
RELEASE_EVERY = os.environ.get("JEDI_BENCH_RELEASE_EVERY", "2s")


def bootstrap_servers() -> str:
    servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        raise SystemExit("KAFKA_BOOTSTRAP_SERVERS is not set: run `make bench` (it starts Kafka)")
    return servers


def new_namespace(label: str) -> str:
    """A topic prefix of its own; the label in it only as letters, digits and dashes."""
    slug = "".join(c if c.isascii() and c.isalnum() else "-" for c in label).strip("-")
    return f"bench-{slug}-{uuid.uuid4().hex[:8]}."


async def delete_namespaces(servers: str, namespaces: Iterable[str]) -> int:
    """Delete every topic whose name starts with one of `namespaces`; returns how many."""
    prefixes = tuple(namespaces)
    if not prefixes:
        return 0
    admin = AIOKafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=30_000)
    await admin.start()
    try:
        topics = [topic for topic in await admin.list_topics() if topic.startswith(prefixes)]
        for start in range(0, len(topics), 100):
            await admin.delete_topics(topics[start : start + 100], timeout_ms=30_000)
        return len(topics)
    finally:
        await admin.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Keys:
    path: Path
    coordinator: str
    sites: dict[str, str]


def write_credentials(directory: Path, site_ids: Sequence[str]) -> Keys:
    keys, stored = issue_credentials(list(site_ids))
    path = directory / "credentials.json"
    path.write_text(json.dumps(credentials_document(stored)))
    coordinator = keys.pop("coordinator")
    return Keys(path, coordinator, keys)


def resident_kib(pid: int, field: str = "VmHWM") -> int:
    """VmRSS (now) or VmHWM (peak since start) of a process, in KiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


class Service(ServiceProcess):
    """`python -m services.<name>`, as `ServiceProcess`, with its peak memory."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path) -> None:
        super().__init__(f"services.{name}", env, log_path)
        self.name = name

    def peak_kib(self) -> int:
        return resident_kib(self.pid, "VmHWM")

    def check_alive(self) -> None:
        if not self.running:
            raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{self.tail()}")


async def grpc_serving(address: str) -> bool:
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            stub = health_pb2_grpc.HealthStub(channel)
            reply = await stub.Check(  # type: ignore[attr-defined]  # its stubs declare no methods
                health_pb2.HealthCheckRequest(), timeout=3
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


async def wait_ready(service: Service, probe: str, timeout: float = 180) -> float:
    """Seconds until the service answers its health check: a gRPC address, or an http:// URL."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        service.check_alive()
        ok = (
            await asyncio.to_thread(http_ok, probe)
            if probe.startswith("http")
            else await grpc_serving(probe)
        )
        if ok:
            return time.monotonic() - started
        await asyncio.sleep(0.05)  # pacing between probes
    raise TimeoutError(
        f"{service.name} not ready at {probe} after {timeout:.0f} s\n{service.tail()}"
    )


def processor_env(
    servers: str, namespace: str, state_dir: Path, *, web_port: int | None = None
) -> dict[str, str]:
    """The processor with its default batch settings, its own app id and state directory."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": servers,
        "JEDI_TOPIC_NAMESPACE": namespace,
        "JEDI_APP_ID": "processor",
        "JEDI_STATE_DIR": str(state_dir),
        "JEDI_METRICS_PORT": "0",
        "JEDI_REGISTRY_CHECK_INTERVAL_S": "1",
        "JEDI_RELEASE_EVERY": RELEASE_EVERY,
        "JEDI_WEB_ENABLED": "false" if web_port is None else "true",
    }
    if web_port is not None:
        env["JEDI_WEB_PORT"] = str(web_port)
    return env


def grpc_env(servers: str, namespace: str, keys: Keys, port: int) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": servers,
        "JEDI_TOPIC_NAMESPACE": namespace,
        "JEDI_CREDENTIALS_FILE": str(keys.path),
        "JEDI_PORT": str(port),
        "JEDI_METRICS_PORT": "0",
    }


async def register(address: str, keys: Keys, dataset: DemoDataset) -> None:
    """The dataset's instrument and sites, registered through ingest as a coordinator."""
    async with open_channel(address) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        metadata = call_metadata(keys.coordinator)
        await stub.PutInstrument(
            ingest_pb2.PutInstrumentRequest(instrument=instrument_to_proto(dataset.instrument)),
            metadata=metadata,
        )
        for site in dataset.sites:
            await stub.PutSite(
                ingest_pb2.PutSiteRequest(site=site_to_proto(site)), metadata=metadata
            )


def requests_of(
    events: Sequence[Event], batch: int = BATCH
) -> list[list[ingest_pb2.SubmitEventsRequest]]:
    """Each site's events in batches (in the order given), ready to send: a list per site."""
    by_site: dict[str, list[Event]] = {}
    for event in events:
        by_site.setdefault(event.site_id, []).append(event)
    return [
        [
            ingest_pb2.SubmitEventsRequest(
                events=[event_to_proto(event) for event in site_events[start : start + batch]]
            )
            for start in range(0, len(site_events), batch)
        ]
        for site_events in by_site.values()
    ]


async def submit_all(
    address: str,
    keys: Keys,
    requests: Sequence[Sequence[ingest_pb2.SubmitEventsRequest]],
    *,
    streams: int = 1,
    label: str = "ingest",
) -> float:
    """Send every site's requests (`requests_of`) through ingest (coordinator key), `streams`
    calls at a time; the seconds taken. Raises if ingest rejects an event.

    Each stream takes a site whole and sends its requests one after another, so a site's events
    arrive in the order given (ingest refuses an incident step before the one it follows, e.g.
    "acknowledged before reported"); `streams` sites push at once, as separate systems would."""
    queue = list(reversed(requests))
    total = sum(len(r.events) for site in requests for r in site)
    progress = bar(total, label)
    async with open_channel(address) as channel:
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        metadata = call_metadata(keys.coordinator)

        async def stream() -> None:
            while queue:
                for request in queue.pop():
                    reply = await stub.SubmitEvents(request, metadata=metadata, timeout=120)
                    if reply.rejected_count:
                        reasons = [str(list(r.errors)) for r in reply.results if r.errors][:3]
                        raise RuntimeError(
                            f"ingest rejected {reply.rejected_count} events: {reasons}"
                        )
                    progress.update(len(request.events))

        started = time.perf_counter()
        await asyncio.gather(*(stream() for _ in range(streams)))
        elapsed = time.perf_counter() - started
    progress.close()
    return elapsed


async def produce_events(servers: str, topics: Topics, events: Sequence[Event]) -> float:
    """The events straight onto the event topics, as ingest writes them; the seconds taken."""
    records = [event_record(topics, event) for event in events]
    producer = make_producer(servers)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [
            await producer.send(r.topic, r.value, key=r.key, headers=r.headers) for r in records
        ]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


def say_ready(name: str, seconds: float) -> None:
    say(f"{name} ready after {seconds:.1f} s")


class LocalPlatform:
    """Ingest, processor and query as processes on one namespace, as scripts/services.sh runs them."""

    def __init__(self, label: str, directory: Path, site_ids: Sequence[str]) -> None:
        self.servers = bootstrap_servers()
        self.namespace = new_namespace(label)
        self.topics = Topics(self.namespace)
        self.directory = directory
        self.keys = write_credentials(directory, site_ids)
        self.ports = {name: free_port() for name in ("ingest", "query", "processor_web")}
        self.services: dict[str, Service] = {}
        self.ready_kib: dict[str, int] = {}

    @property
    def ingest_address(self) -> str:
        return f"127.0.0.1:{self.ports['ingest']}"

    @property
    def query_address(self) -> str:
        return f"127.0.0.1:{self.ports['query']}"

    @property
    def processor_probe(self) -> str:
        return f"http://127.0.0.1:{self.ports['processor_web']}/"

    def processor_env(self, state_dir: Path) -> dict[str, str]:
        return processor_env(
            self.servers, self.namespace, state_dir, web_port=self.ports["processor_web"]
        )

    async def start(self) -> None:
        env = grpc_env(self.servers, self.namespace, self.keys, self.ports["ingest"])
        self.services["ingest"] = Service("ingest", env, self.directory / "ingest.log")
        say_ready("ingest", await wait_ready(self.services["ingest"], self.ingest_address))
        await self.start_processor(self.directory / "processor-state")
        env = grpc_env(self.servers, self.namespace, self.keys, self.ports["query"])
        self.services["query"] = Service("query", env, self.directory / "query.log")
        say_ready("query", await wait_ready(self.services["query"], self.query_address))
        for name, service in self.services.items():
            self.ready_kib[name] = resident_kib(service.pid, "VmRSS")

    async def start_processor(self, state_dir: Path, log_name: str = "processor.log") -> float:
        """A processor worker; the seconds until its readiness probe answers."""
        self.services["processor"] = Service(
            "processor", self.processor_env(state_dir), self.directory / log_name
        )
        seconds = await wait_ready(self.services["processor"], self.processor_probe)
        say_ready("processor", seconds)
        return seconds

    def check_alive(self) -> None:
        for service in self.services.values():
            service.check_alive()

    def peak_mib(self) -> dict[str, float]:
        return {name: service.peak_kib() / 1024 for name, service in self.services.items()}

    async def stop(self, *, delete_topics: bool = True, kill: bool = False) -> None:
        for name in ("query", "processor", "ingest"):
            if name in self.services:
                self.services[name].stop(kill=kill)
        if delete_topics:
            await delete_namespaces(self.servers, [self.namespace])
