"""`python -m services.ingest`: run the ingest gRPC service."""

from services.ingest.server import IngestServer
from services.ingest.settings import IngestSettings
from shared.service_runner import run_service
from shared.settings import load_settings


def main() -> None:
    settings = load_settings(IngestSettings)
    run_service("ingest", settings, IngestServer(settings))


if __name__ == "__main__":
    main()
