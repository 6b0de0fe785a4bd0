"""`python -m services.processor`: run one processor worker until SIGTERM or SIGINT.

Creates the topics it needs, then runs the Faust worker (which handles the signals: it
finishes the batch in hand, commits, and stops). Logs are JSON on stderr.
"""

from __future__ import annotations

import asyncio
import sys
import time

import faust
import structlog
from aiokafka.errors import KafkaError
from prometheus_client import start_http_server

from services.processor.faust.app import create_processor
from services.processor.lag import start_lag_sampler
from services.processor.settings import ProcessorSettings
from services.processor.topics import ProcessorTopics
from shared.kafka import ensure_topics
from shared.logging import configure_logging
from shared.settings import load_settings
from shared.telemetry import configure_tracing


async def create_topics(settings: ProcessorSettings, topics: ProcessorTopics) -> list[str]:
    """The topics the worker needs (Faust needs its sources to exist); waits for Kafka a while."""
    deadline = time.monotonic() + settings.startup_wait_s
    while True:
        try:
            return await ensure_topics(
                settings.kafka,
                topics.all,
                replication_factor=settings.topic_replication_factor,
            )
        except KafkaError as error:
            if time.monotonic() > deadline:
                raise
            structlog.get_logger("services.processor").warning(
                "kafka_unavailable_retrying", error=repr(error)
            )
            await asyncio.sleep(2.0)


def main() -> int:
    settings = load_settings(ProcessorSettings)
    configure_logging("processor", settings.log_level)
    configure_tracing("processor", settings.traces_exporter)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    log = structlog.get_logger("services.processor")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    topics = ProcessorTopics.of(settings)
    try:
        created = loop.run_until_complete(create_topics(settings, topics))
    except KafkaError as error:
        log.error(
            "processor_cannot_start",
            error=repr(error),
            bootstrap_servers=settings.kafka_bootstrap_servers,
        )
        return 1
    log.info(
        "processor_starting",
        app_id=topics.app_id,
        created_topics=created,
        store=settings.table_store,
        state_dir=str(settings.state_dir),
    )
    wiring = create_processor(settings)
    if settings.metrics_port:
        start_lag_sampler(
            settings.kafka,
            topics.app_id,
            [topics.platform.interventions.name, topics.platform.survey_responses.name],
        )
    worker = faust.Worker(
        wiring.app,
        loop=loop,
        loglevel=settings.log_level,
        override_logging=False,
        quiet=True,
        redirect_stdouts=False,
    )
    worker.spinner = None  # no terminal spinner: the output is JSON logs only
    worker.execute_from_commandline()  # returns through sys.exit once stopped
    return 0


if __name__ == "__main__":
    sys.exit(main())
