"""Wires the processor: the Faust app, its topics and tables, the drivers and their adapters.

Nothing is created at import time; `wire` builds everything from the settings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import faust
from faust.types import AppT, TopicT

from services.processor import clock
from services.processor.cross_driver import CrossDriver
from services.processor.faust.adapters import (
    AppliedOffsets,
    FaustTableStore,
    changelog_table,
    faust_rewind,
)
from services.processor.inputs import Headers, InputRecord, SiteTopics
from services.processor.outbox import KafkaOutbox, Send, forward_site_records
from services.processor.ports import InputPartition, Rewind
from services.processor.registry import InstrumentRegistry
from services.processor.settings import ProcessorSettings
from services.processor.site_driver import SiteDriver, SiteStageSettings
from services.processor.topics import GROUP_TABLE, SITE_TABLE, ProcessorTopics
from shared.domain.publication.calendar import ReleaseCalendar


@dataclass
class FaustTopics:
    site_inputs: TopicT  # the event topics and the site changes, all keyed by site id
    site_summaries: TopicT


@dataclass
class Wiring:
    app: faust.App
    topics: ProcessorTopics
    faust_topics: FaustTopics
    instruments: InstrumentRegistry
    site_driver: SiteDriver
    cross_driver: CrossDriver
    forward_sites: Callable[[Sequence[InputRecord]], Awaitable[None]]
    send: Send
    rewind: Rewind
    applied_offsets: AppliedOffsets  # read by adapters.seek_to_applied_offsets


def _raw() -> faust.Schema[bytes, bytes]:
    return faust.Schema(
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )


def _raw_topic(app: AppT, *names: str, partitions: int) -> TopicT:
    return app.topic(*names, schema=_raw(), partitions=partitions)


def faust_send(app: AppT) -> Send:
    """`send(topic, key, value, headers)` through the app's producer; returns the delivery future."""

    async def send(
        topic: str, key: bytes | None, value: bytes | None, headers: Headers
    ) -> Awaitable[faust.types.RecordMetadata]:
        return await app.producer.send(
            topic, key, value, partition=None, timestamp=None, headers=list(headers)
        )

    return send


def _outbox(send: Send, topics: ProcessorTopics) -> KafkaOutbox:
    return KafkaOutbox(
        send,
        benchmarks=topics.platform.benchmarks.name,
        summaries=topics.site_summaries.name,
        deadletter=topics.platform.deadletter.name,
    )


def wire(app: faust.App, settings: ProcessorSettings, topics: ProcessorTopics) -> Wiring:
    platform = topics.platform
    faust_topics = FaustTopics(
        site_inputs=_raw_topic(
            app,
            platform.survey_responses.name,
            platform.interventions.name,
            topics.site_changes.name,
            partitions=topics.site_partitions,
        ),
        site_summaries=_raw_topic(app, topics.site_summaries.name, partitions=1),
    )
    site_table = changelog_table(
        app,
        SITE_TABLE,
        partitions=topics.site_partitions,
        help="Each site's state, applied event ids, site",
    )
    group_table = changelog_table(
        app,
        GROUP_TABLE,
        partitions=1,
        help="Each wave's shown site scores and last cross-site release",
    )
    instruments = InstrumentRegistry(
        kafka=settings.kafka,
        topic=platform.instruments.name,
        wait_s=settings.registry_wait_s,
    )
    app.service(instruments)  # type: ignore[arg-type]  # faust's hint says a class; it takes an instance too
    send = faust_send(app)
    rewind = faust_rewind(app)
    site_driver = SiteDriver(
        topics=SiteTopics.of(platform, topics.site_changes.name),
        store=FaustTableStore(site_table),
        outbox=_outbox(send, topics),
        instruments=instruments,
        settings=SiteStageSettings(
            settings.min_cell_size,
            clock.current_as_of,
            clock.utc_now,
            ReleaseCalendar(settings.release_every),
        ),
        rewind=rewind,
    )
    cross_driver = CrossDriver(
        topic=topics.site_summaries.name,
        store=FaustTableStore(group_table),
        outbox=_outbox(send, topics),
        min_sites=settings.min_sites,
        now=clock.utc_now,
        rewind=rewind,
    )
    site_inputs = set(faust_topics.site_inputs.topics)
    summaries = topics.site_summaries.name

    def applied_offsets(
        inputs: Iterable[InputPartition], *, default: int | None = None
    ) -> dict[InputPartition, int]:
        """Where the stages' watermarks say to resume each input partition (see input_tracker)."""
        partitions = list(inputs)
        return {
            **site_driver.resume_offsets(
                [i for i in partitions if i[0] in site_inputs], default=default
            ),
            **cross_driver.resume_offsets(
                [i for i in partitions if i[0] == summaries], default=default
            ),
        }

    return Wiring(
        app=app,
        topics=topics,
        faust_topics=faust_topics,
        instruments=instruments,
        site_driver=site_driver,
        cross_driver=cross_driver,
        forward_sites=partial(forward_site_records, send, topics.site_changes.name),
        send=send,
        rewind=rewind,
        applied_offsets=applied_offsets,
    )
