"""Progress while a benchmark runs, on stderr: a line per step and tqdm bars for counts."""

from __future__ import annotations

import logging
import sys
import time
from typing import Never

import structlog
from tqdm import tqdm

_STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[bench {time.monotonic() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def bar(total: int, label: str) -> tqdm[Never]:
    return tqdm(
        total=total, desc=f"[bench] {label}", unit="ev", file=sys.stderr, leave=False, mininterval=1
    )


def quiet_logs() -> None:
    """Services run in this process (an ingest to register sites, the cross-site driver) log
    only warnings: their info lines would bury the progress."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
