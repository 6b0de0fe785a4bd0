"""Settings every service shares: where Kafka is, how to log, where traces and metrics go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shared.kafka import KafkaConnection, SaslMechanism, SecurityProtocol
from shared.settings import SettingsError, env_var

# Where spans go: printed as JSON, sent over OTLP (endpoint from OTEL_EXPORTER_OTLP_ENDPOINT), or nowhere.
TracesExporter = Literal["console", "otlp", "none"]


@dataclass(frozen=True)
class CommonSettings:
    kafka_bootstrap_servers: str = env_var("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    # How the Kafka clients authenticate: SASL_PLAINTEXT or SASL_SSL with a SCRAM user for the
    # deployment's brokers (deploy/k8s), PLAINTEXT for a local broker.
    kafka_security_protocol: SecurityProtocol = env_var("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    kafka_sasl_mechanism: SaslMechanism = env_var("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    kafka_sasl_username: str = env_var("KAFKA_SASL_USERNAME", "")
    kafka_sasl_password: str = env_var("KAFKA_SASL_PASSWORD", "", secret=True)
    # The CA of the brokers' certificates, for SSL and SASL_SSL; unset: the system's CAs.
    kafka_ssl_cafile: Path | None = env_var("KAFKA_SSL_CAFILE", None)
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

    def __post_init__(self) -> None:
        try:
            self.kafka  # noqa: B018 -- checked at load, so a bad combination fails at start
        except ValueError as error:
            raise SettingsError(f"Kafka settings: {error}") from error

    @property
    def kafka(self) -> KafkaConnection:
        """The connection every Kafka client of the service uses (shared/kafka.py)."""
        return KafkaConnection(
            bootstrap_servers=self.kafka_bootstrap_servers,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password,
            ssl_cafile=self.kafka_ssl_cafile,
        )


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
        super().__post_init__()
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise SettingsError(
                "JEDI_TLS_CERT_FILE and JEDI_TLS_KEY_FILE go together: set both to serve TLS, or neither"
            )
