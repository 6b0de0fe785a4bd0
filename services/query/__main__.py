"""`python -m services.query`: run the benchmark query service."""

from services.query.server import QueryServer
from services.query.settings import QuerySettings
from shared.service_runner import run_service
from shared.settings import load_settings


def main() -> None:
    settings = load_settings(QuerySettings)
    run_service("query", settings, QueryServer(settings))


if __name__ == "__main__":
    main()
