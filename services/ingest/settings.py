"""Configuration of the ingest service, from JEDI_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.service_settings import CommonSettings


@dataclass(frozen=True)
class IngestSettings(CommonSettings):
    host: str = "127.0.0.1"
    port: int = 50051  # JEDI_PORT
    # JSON file of hashed API keys (see shared/auth.py); required.
    credentials_file: Path = Path(".local/credentials.json")
    # Set to run for one site only: every other site id is refused even to a coordinator.
    site_id: str | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    max_events_per_request: int = 5000
    # How long a publish may wait for Kafka before the call answers UNAVAILABLE.
    publish_timeout_s: float = 20.0
