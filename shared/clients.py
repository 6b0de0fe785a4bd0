"""gRPC client plumbing for the CLI, the demo and tests: channels and call metadata."""

from __future__ import annotations

from pathlib import Path

import grpc

from shared.auth import API_KEY_METADATA
from shared.telemetry import inject_trace_headers


def open_channel(address: str, *, ca_file: Path | None = None) -> grpc.aio.Channel:
    """An asyncio channel; TLS when a CA bundle is given."""
    if ca_file is not None:
        return grpc.aio.secure_channel(address, grpc.ssl_channel_credentials(ca_file.read_bytes()))
    return grpc.aio.insecure_channel(address)


def call_metadata(api_key: str | None) -> tuple[tuple[str, str], ...]:
    """The API key plus the current trace context, as gRPC metadata."""
    trace = tuple((key, value.decode()) for key, value in inject_trace_headers())
    return ((API_KEY_METADATA, api_key),) + trace if api_key else trace
