"""Configuration of the dashboard, from JEDI_* environment variables.

The dashboard reads nothing from Kafka: it is a client of the query service only, so it has
no Kafka settings (and no Kafka egress in deploy/k8s).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.service_settings import TracesExporter
from shared.settings import SettingsError


@dataclass(frozen=True)
class DashboardSettings:
    host: str = "127.0.0.1"
    # HTTP port of the pages, the SSE streams and the health checks (JEDI_PORT).
    port: int = 8080
    # The query service (gRPC), called with each signed-in user's own key.
    query_address: str = "127.0.0.1:50061"
    # CA bundle that signs the query service's certificate: TLS to it when set.
    query_ca_file: Path | None = None
    # Serve HTTPS (both or neither); cookies are then Secure.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    # Mark the session cookie Secure even without TLS here (behind a TLS-terminating proxy).
    cookie_secure: bool = False
    # A session ends this long after sign-in.
    session_ttl_s: float = 8 * 3600.0
    # The most sessions held at once (the oldest is dropped beyond it).
    max_sessions: int = 5000
    # Sign-in failures from one client before each further attempt is delayed, and the most delay.
    signin_free_failures: int = 3
    signin_max_delay_s: float = 8.0
    # After a change on the Watch stream, wait this long for more before rebuilding a view.
    coalesce_s: float = 0.05
    # Deadline of each unary call to the query service.
    query_timeout_s: float = 10.0
    # The minimum cell size k of the platform (JEDI_MIN_CELL_SIZE): the wording of hidden cells.
    min_cell_size: int = 10
    # SSE comment sent this often so proxies keep the stream open.
    keepalive_s: float = 15.0
    # Where `npm install` put the browser libraries (services/dashboard/node_modules).
    assets_dir: Path = Path(__file__).resolve().parent / "node_modules"
    log_level: str = "INFO"
    traces_exporter: TracesExporter = "none"
    # Prometheus /metrics on its own port; 0 turns it off.
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise SettingsError(
                "JEDI_TLS_CERT_FILE and JEDI_TLS_KEY_FILE go together: set both to serve TLS, or neither"
            )

    @property
    def secure_cookies(self) -> bool:
        return self.cookie_secure or self.tls_cert_file is not None
