"""Runs a service until SIGINT or SIGTERM, with logging, tracing and metrics set up first."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from typing import Protocol

import structlog
from prometheus_client import start_http_server

from shared.kafka import AUTHORIZATION_ERRORS, KafkaAccessDenied, access_denied
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
    if not asyncio.run(_run(service, settings)):
        sys.exit(1)


async def _run(service: Service, settings: CommonSettings) -> bool:
    """Serves until a signal; False if it could not start (the reason is logged)."""
    log = structlog.get_logger(__name__)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await service.start()
    except Exception as error:
        # One log line that says why, instead of a bare traceback: a refusal by the brokers' ACLs
        # names the user and what it was refused.
        if isinstance(error, KafkaAccessDenied):
            reason = str(error)
        elif isinstance(error, AUTHORIZATION_ERRORS):
            reason = access_denied(settings.kafka, "access", [str(error)], type(error).__name__)
        else:
            reason = f"{type(error).__name__}: {error}"
        log.error("service_start_failed", reason=reason, exc_info=error)
        with contextlib.suppress(Exception):
            await service.stop()
        return False
    try:
        await stop.wait()
    finally:
        log.info("shutdown_requested")
        await service.stop()
    return True
