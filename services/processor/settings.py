"""Configuration of the benchmark processor, from JEDI_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.service_settings import CommonSettings


@dataclass(frozen=True)
class ProcessorSettings(CommonSettings):
    app_id: str = "jedi-processor"
    state_dir: Path = Path(".local/processor-state")
    # Faust's web server: /healthz style checks and its own metrics.
    web_port: int = 6066
    # Minimum cell size k: no cell with fewer respondents is published.
    min_cell_size: int = 10
