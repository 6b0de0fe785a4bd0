"""Configuration of the query service, from JEDI_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.service_settings import CommonSettings


@dataclass(frozen=True)
class QuerySettings(CommonSettings):
    host: str = "127.0.0.1"
    port: int = 50061  # JEDI_PORT
    credentials_file: Path = Path(".local/credentials.json")
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
