"""`python -m services.dashboard`: the web dashboard on uvicorn (HTTP on JEDI_PORT)."""

from __future__ import annotations

import uvicorn
from prometheus_client import start_http_server

from services.dashboard.app import build_app
from services.dashboard.settings import DashboardSettings
from shared.logging import configure_logging
from shared.settings import load_settings
from shared.telemetry import configure_tracing


def main() -> None:
    settings = load_settings(DashboardSettings)
    configure_logging("dashboard", settings.log_level)
    configure_tracing("dashboard", settings.traces_exporter)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    uvicorn.run(
        build_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        ssl_certfile=str(settings.tls_cert_file) if settings.tls_cert_file else None,
        ssl_keyfile=str(settings.tls_key_file) if settings.tls_key_file else None,
        timeout_graceful_shutdown=5,
        lifespan="on",
    )


if __name__ == "__main__":
    main()
