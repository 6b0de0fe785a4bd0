"""Configuration of the benchmark processor, from JEDI_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

from shared.service_settings import CommonSettings

# Where a worker keeps its tables: RocksDB files under `state_dir`, or memory (then it recovers
# everything from the changelogs at every start).
TableStore = Literal["rocksdb", "memory"]


@dataclass(frozen=True)
class ProcessorSettings(CommonSettings):
    # The Faust app id: the consumer group, and the prefix of its changelog and internal topics
    # (after the topic namespace). Every worker of one processor shares it.
    app_id: str = "jedi-processor"
    # Local table state (RocksDB); a worker recovers what is missing from the changelogs.
    state_dir: Path = Path(".local/processor-state")
    table_store: TableStore = "rocksdb"
    # Faust's web server: /healthz style checks and its own metrics.
    web_enabled: bool = True
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    # Minimum cell size k: no cell with fewer respondents is published.
    min_cell_size: int = 10
    # Scheduled release times: every this long, aligned to 00:00 UTC (and at each wave's close).
    # JEDI_RELEASE_EVERY takes a duration: "1d", "6h", "30m", "5s". Shorter is fresher and costs
    # more releases, each audited against every earlier one (docs/privacy.md).
    release_every: timedelta = timedelta(days=1)
    # A cross-site distribution over fewer sites is not published.
    min_sites: int = 10
    # A site stage batch: at most this many records, or what arrived within the window. Each
    # batch gates and republishes every site it touched, a cost per site and not per event, so
    # a processor behind its input catches up faster in large batches: the stages in memory
    # (scripts/profile_core.py, demo x4) took 1,758 ev/s in batches of 2,000, 4,136 in 10,000.
    batch_size: int = 10_000
    batch_window_s: float = 0.5
    # How often the leader forwards new site registrations, and checks whether the UTC day
    # (the end of rolling windows) changed.
    registry_check_interval_s: float = 5.0
    # How long an event for an unknown instrument waits for the registry to catch up.
    registry_wait_s: float = 10.0
    # A partition behind its end, its commits not moving and nothing in processing for this long,
    # is sought back to its committed offset (see watchdog.py).
    stall_patience_s: float = 20.0
    # How long a starting worker waits for Kafka before it gives up (exit code 1).
    startup_wait_s: float = 60.0
    # Kafka group membership: a worker that stops heartbeating loses its partitions after this.
    session_timeout_s: float = 10.0
    heartbeat_interval_s: float = 1.0
    # Standby copies of each table partition kept by other workers, for a fast takeover.
    standby_replicas: int = 1
