"""Runs a service until SIGINT or SIGTERM, with logging, tracing and metrics set up first."""

from __future__ import annotations

import asyncio
import signal
from typing import Protocol

import structlog
from prometheus_client import start_http_server

from shared.logging import configure_logging
from shared.service_settings import CommonSettings
from shared.telemetry import configure_tracing


class Service(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


def run_service(name: str, settings: CommonSettings, service: Service) -> None:
    configure_logging(name, settings.log_level)
    configure_tracing(name, settings.traces_exporter)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    asyncio.run(_run(service))


async def _run(service: Service) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await service.start()
    try:
        await stop.wait()
    finally:
        structlog.get_logger(__name__).info("shutdown_requested")
        await service.stop()
