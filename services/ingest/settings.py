"""Configuration of the ingest service, from JEDI_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass

from shared.service_settings import GrpcServiceSettings


@dataclass(frozen=True)
class IngestSettings(GrpcServiceSettings):
    port: int = 50051  # JEDI_PORT
    # Set to run for one site only: every other site id is refused even to a coordinator.
    site_id: str | None = None
    max_events_per_request: int = 5000
    # How long a publish may wait for Kafka before the call answers UNAVAILABLE.
    publish_timeout_s: float = 20.0
