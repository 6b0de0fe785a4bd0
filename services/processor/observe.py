"""Traces, logs and metrics of the site stage's batches.

Each event is handled in a span continuing the trace its producer put in the record headers;
a site's cells are sent in a span continuing the last event's trace (linked to the others),
and carry that context in their own headers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager

import structlog
from opentelemetry import trace

from services.processor import metrics
from services.processor.inputs import InputRecord
from shared.domain.publication.site_step import Outcome, SiteEvent, SiteInput, SiteStep
from shared.telemetry import context_from_headers

log = structlog.get_logger("services.processor.site_driver")
tracer = trace.get_tracer("services.processor")
MAX_LINKS = 64


class _EventScope:
    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def outcome(self, outcome: Outcome, reason: str | None) -> None:
        self._span.set_attribute("jedi.outcome", outcome)
        if reason:
            self._span.set_attribute("jedi.rejection", reason)


@contextlib.contextmanager
def event_span(item: SiteInput[InputRecord]) -> Iterator[_EventScope]:
    record = item.ref
    with tracer.start_as_current_span(
        "processor.apply",
        context=context_from_headers(record.headers),
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.destination.name": record.topic,
            "messaging.kafka.partition": record.partition,
            "messaging.kafka.offset": record.offset,
            "jedi.site_id": record.site_id,
            "jedi.event_id": getattr(item, "event_id", ""),
        },
    ) as span:
        yield _EventScope(span)


def _span_context(record: InputRecord) -> trace.SpanContext:
    return trace.get_current_span(context_from_headers(record.headers)).get_span_context()


def publish_span(
    step: SiteStep[InputRecord], inputs: Sequence[SiteInput[InputRecord]]
) -> AbstractContextManager[trace.Span]:
    """The span a site's publication is sent in: a child of its last event's producer span."""
    events = [item.ref for item in inputs if isinstance(item, SiteEvent)] or [inputs[-1].ref]
    contexts = [_span_context(record) for record in events[-MAX_LINKS - 1 : -1]]
    return tracer.start_as_current_span(
        "processor.publish_site",
        context=context_from_headers(events[-1].headers),
        links=[trace.Link(context) for context in contexts if context.is_valid],
        kind=trace.SpanKind.PRODUCER,
        attributes={
            "jedi.site_id": step.record.site_id,
            "jedi.release": step.record.release_number,
            "jedi.cells": len(step.release.cells) if step.release else 0,
            "jedi.applied": step.applied,
            "jedi.duplicates": step.duplicates,
        },
    )


def _offset_ranges(records: Sequence[InputRecord]) -> dict[str, str]:
    """ "topic:partition" -> "first-last" offsets."""
    ranges: dict[str, list[int]] = {}
    for record in records:
        ranges.setdefault(f"{record.topic}:{record.partition}", []).append(record.offset)
    return {tp: f"{min(offsets)}-{max(offsets)}" for tp, offsets in sorted(ranges.items())}


def site_batch_done(
    records: Sequence[InputRecord], applied_records: int, done: Sequence[SiteStep[InputRecord]]
) -> None:
    for step in done:
        metrics.INPUTS.labels("applied").inc(step.applied)
        metrics.INPUTS.labels("duplicate").inc(step.duplicates)
        metrics.INPUTS.labels("rejected").inc(len(step.rejected))
        metrics.PUBLISHED.labels("site", "release").inc(step.release is not None)
        metrics.PUBLISHED.labels("site", "progress").inc(step.progress is not None)
    log.info(
        "site_batch",
        records=len(records),
        sites=len(done),
        offsets=_offset_ranges(records),
        skipped=len(records) - applied_records,
        applied=sum(s.applied for s in done),
        duplicates=sum(s.duplicates for s in done),
        rejected=sum(len(s.rejected) for s in done),
        releases=sum(s.release is not None for s in done),
        cells=sum(len(s.release.cells) for s in done if s.release),
        held_back=sum(sum(s.progress.held_back.values()) for s in done if s.progress),
    )
