"""OpenTelemetry set-up, and W3C trace context carried across the Kafka hop in record headers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)

KafkaHeaders = Sequence[tuple[str, bytes]]


def configure_tracing(
    service: str, exporter: str = "none", *, extra_exporter: SpanExporter | None = None
) -> TracerProvider:
    """Install a tracer provider for `service`.

    `exporter` is "console" (spans as JSON on stdout), "otlp" (the endpoint comes from the
    standard OTEL_EXPORTER_OTLP_* variables) or "none". `extra_exporter` lets tests collect spans.
    """
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    elif exporter != "none":
        raise ValueError(f"unknown traces exporter {exporter!r}: use console, otlp or none")
    if extra_exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(extra_exporter))
    trace.set_tracer_provider(provider)
    return provider


def inject_trace_headers(headers: Iterable[tuple[str, bytes]] = ()) -> list[tuple[str, bytes]]:
    """The given headers plus `traceparent`/`tracestate` for the current span."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [*headers, *((key, value.encode()) for key, value in carrier.items())]


def context_from_headers(headers: KafkaHeaders | None) -> otel_context.Context:
    """The trace context a producer put in a record's headers (an empty context if none)."""
    carrier = {
        key: value.decode("utf-8", "replace")
        for key, value in (headers or ())
        if key in ("traceparent", "tracestate")
    }
    return propagate.extract(carrier)
