"""Configuration of the query service, from JEDI_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass

from shared.service_settings import GrpcServiceSettings


@dataclass(frozen=True)
class QuerySettings(GrpcServiceSettings):
    port: int = 50061  # JEDI_PORT
    # Defence in depth: the view refuses a cell describing fewer than k people, or a
    # distribution or rank over fewer than `min_sites` sites, even though the topic should
    # hold none (same variable as the processor's k: JEDI_MIN_CELL_SIZE).
    min_cell_size: int = 10
    min_sites: int = 10
    # Pagination of list RPCs: the size used when a request asks for none, and the most.
    default_page_size: int = 50
    max_page_size: int = 500
    # Cells per Watch message of the initial snapshot.
    watch_snapshot_chunk: int = 500
    # How long a call without a deadline waits for the view to catch up before UNAVAILABLE.
    not_ready_wait_s: float = 5.0
    # Seconds in-flight calls get to finish at shutdown (Watch streams are cancelled).
    shutdown_grace_s: float = 5.0
