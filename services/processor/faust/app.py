"""The processor's factory: a Faust app built from `ProcessorSettings`, never at import time."""

from __future__ import annotations

import faust

from services.processor.faust.adapters import seek_to_applied_offsets
from services.processor.faust.agents import register_agents
from services.processor.faust.timers import register_timers
from services.processor.faust.wiring import Wiring, wire
from services.processor.settings import ProcessorSettings
from services.processor.topics import ProcessorTopics
from shared.kafka import KafkaConnection
from shared.topics import MAX_RECORD_BYTES

STORES = {"rocksdb": "rocksdb://", "memory": "memory://"}


def broker_credentials(
    kafka: KafkaConnection,
) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """Faust's form of the connection's SASL and TLS settings (None: anonymous plaintext)."""
    if kafka.sasl:
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password,
            mechanism=kafka.sasl_mechanism,
            ssl_context=kafka.ssl_context(),
        )
    if kafka.tls:
        return faust.SSLCredentials(kafka.ssl_context())
    return None


def faust_app(settings: ProcessorSettings, topics: ProcessorTopics) -> faust.App:
    if settings.table_store not in STORES:
        raise ValueError(
            f"JEDI_TABLE_STORE must be one of {sorted(STORES)}, got {settings.table_store!r}"
        )
    return faust.App(
        topics.app_id,
        broker=[
            f"kafka://{server.strip()}" for server in settings.kafka_bootstrap_servers.split(",")
        ],
        broker_credentials=broker_credentials(settings.kafka),
        store=STORES[settings.table_store],
        datadir=str(settings.state_dir),
        autodiscover=False,
        processing_guarantee="at_least_once",  # exactness comes from the table values, not from Faust
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_max_request_size=MAX_RECORD_BYTES,
        # Releases and table values repeat their keys and labels: zstd makes them about a sixth.
        producer_compression_type="zstd",
        consumer_max_fetch_size=MAX_RECORD_BYTES,
        topic_replication_factor=settings.topic_replication_factor,
        topic_partitions=topics.site_partitions,
        table_standby_replicas=settings.standby_replicas,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        web_enabled=settings.web_enabled,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        worker_redirect_stdouts=False,
    )


def create_processor(settings: ProcessorSettings) -> Wiring:
    """The Faust app with its topics, tables, agents and timer, wired to the drivers."""
    topics = ProcessorTopics.of(settings)
    wiring = wire(faust_app(settings, topics), settings, topics)
    seek_to_applied_offsets(wiring.app, wiring.applied_offsets)
    register_agents(wiring, settings)
    register_timers(wiring, settings)
    return wiring
