"""The whole platform as separate processes on real sockets, for end-to-end tests that need
every service (ingest, processor, query and the dashboard) the way `make demo` runs them."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from jedi.v1 import ingest_pb2, ingest_pb2_grpc
from services.local_process import ServiceProcess
from shared.clients import call_metadata, open_channel
from shared.convert import event_to_proto, instrument_to_proto, site_to_proto
from shared.demo_dataset import DemoDataset
from shared.domain.model import InterventionEvent, SurveyResponse
from tests.support.credentials import TestKeys, write_credentials
from tests.support.ingest import arrival_order
from tests.support.kafka import bootstrap_servers, new_namespace
from tests.support.waiting import eventually


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def wait_until(
    check: Callable[[], Awaitable[bool]], what: str, process: ServiceProcess, timeout: float = 120
) -> None:
    """Until `check()` is true, while `process` runs; the process's last log lines otherwise."""

    async def observe() -> bool:
        assert process.running, f"the process exited while waiting for {what}"
        return await check()

    try:
        await eventually(observe, timeout, what=what, interval=0.2)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{process.tail()}") from None


async def grpc_serving(address: str) -> bool:
    check = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.healthcheck",
        address,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await check.wait() == 0


async def wait_serving(address: str, process: ServiceProcess, timeout: float = 120) -> None:
    """Until the gRPC service of `process` answers its health check SERVING."""
    await wait_until(lambda: grpc_serving(address), f"{address} SERVING", process, timeout)


async def http_ok(url: str) -> bool:
    def get() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=3) as reply:
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    return await asyncio.to_thread(get)


@dataclass
class Platform:
    dataset: DemoDataset
    keys: TestKeys
    ports: dict[str, int]
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def ingest_address(self) -> str:
        return f"127.0.0.1:{self.ports['ingest']}"

    @property
    def query_address(self) -> str:
        return f"127.0.0.1:{self.ports['query']}"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['dashboard']}/"

    async def push(
        self, events: Iterable[SurveyResponse | InterventionEvent], key: str
    ) -> ingest_pb2.SubmitEventsResponse:
        async with open_channel(self.ingest_address) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            return await stub.SubmitEvents(
                ingest_pb2.SubmitEventsRequest(events=[event_to_proto(e) for e in events]),
                metadata=call_metadata(key),
                timeout=60,
            )

    async def push_dataset(self) -> None:
        async with open_channel(self.ingest_address) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            coordinator = call_metadata(self.keys.coordinator)
            await stub.PutInstrument(
                ingest_pb2.PutInstrumentRequest(
                    instrument=instrument_to_proto(self.dataset.instrument)
                ),
                metadata=coordinator,
            )
            for site in self.dataset.sites:
                await stub.PutSite(
                    ingest_pb2.PutSiteRequest(site=site_to_proto(site)), metadata=coordinator
                )
        for site in self.dataset.sites:
            sent: list[SurveyResponse | InterventionEvent] = [
                *self.dataset.responses,
                *self.dataset.interventions,
            ]
            events = arrival_order(e for e in sent if e.site_id == site.site_id)
            for start in range(0, len(events), 500):
                reply = await self.push(events[start : start + 500], self.keys.sites[site.site_id])
                assert reply.rejected_count == 0, reply


@contextlib.asynccontextmanager
async def running_platform(
    tmp_path: Path, dataset: DemoDataset, **dashboard_env: str
) -> AsyncIterator[Platform]:
    keys = write_credentials(tmp_path, [site.site_id for site in dataset.sites])
    namespace = new_namespace()
    ports = {name: free_port() for name in ("ingest", "query", "dashboard", "processor_web")}
    platform = Platform(dataset, keys, ports)
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers(),
        "JEDI_TOPIC_NAMESPACE": namespace,
        "JEDI_CREDENTIALS_FILE": str(keys.path),
        "PYTHONUNBUFFERED": "1",
    }
    services = platform.services
    try:
        services["ingest"] = ServiceProcess(
            "services.ingest",
            {**common, "JEDI_PORT": str(ports["ingest"])},
            tmp_path / "ingest.log",
        )
        await wait_until(
            lambda: grpc_serving(platform.ingest_address), "ingest serving", services["ingest"]
        )
        services["processor"] = ServiceProcess(
            "services.processor",
            {
                **common,
                "JEDI_STATE_DIR": str(tmp_path / "state"),
                "JEDI_APP_ID": f"{namespace}processor",
                "JEDI_WEB_PORT": str(ports["processor_web"]),
                "JEDI_RELEASE_EVERY": "1s",
            },
            tmp_path / "processor.log",
        )
        services["query"] = ServiceProcess(
            "services.query", {**common, "JEDI_PORT": str(ports["query"])}, tmp_path / "query.log"
        )
        await wait_until(
            lambda: grpc_serving(platform.query_address), "query serving", services["query"]
        )
        services["dashboard"] = ServiceProcess(
            "services.dashboard",
            {
                "JEDI_PORT": str(ports["dashboard"]),
                "JEDI_QUERY_ADDRESS": platform.query_address,
                "PYTHONUNBUFFERED": "1",
                **dashboard_env,
            },
            tmp_path / "dashboard.log",
        )
        await wait_until(
            lambda: http_ok(platform.dashboard_url + "readyz"),
            "dashboard ready",
            services["dashboard"],
        )
        yield platform
    finally:
        for service in reversed(list(services.values())):
            service.stop()
