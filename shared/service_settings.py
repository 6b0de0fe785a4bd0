"""Settings every service shares: where Kafka is, how to log, where traces and metrics go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shared.settings import SettingsError, env_var

# Where spans go: printed as JSON, sent over OTLP (endpoint from OTEL_EXPORTER_OTLP_ENDPOINT), or nowhere.
TracesExporter = Literal["console", "otlp", "none"]


@dataclass(frozen=True)
class CommonSettings:
    kafka_bootstrap_servers: str = env_var("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    # Replication of the topics a service creates when they are missing (3 in production).
    topic_replication_factor: int = 1
    # Prefix of every topic name (tests use one per run; production leaves it empty).
    topic_namespace: str = ""
    log_level: str = "INFO"
    traces_exporter: TracesExporter = "none"
    # Prometheus /metrics on this port; 0 turns the endpoint off.
    metrics_port: int = 0
    # 0.0.0.0 in a container, so the cluster's Prometheus can scrape it.
    metrics_host: str = "127.0.0.1"


@dataclass(frozen=True)
class GrpcServiceSettings(CommonSettings):
    """A gRPC service's listening address, credentials and optional TLS."""

    host: str = "127.0.0.1"
    port: int = 0  # JEDI_PORT; each service sets its own default
    # JSON file of hashed API keys (see shared/auth.py).
    credentials_file: Path = Path(".local/credentials.json")
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    def __post_init__(self) -> None:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise SettingsError(
                "JEDI_TLS_CERT_FILE and JEDI_TLS_KEY_FILE go together: set both to serve TLS, or neither"
            )
