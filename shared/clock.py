"""The wall clock: where the services read the current time (the domain core never does)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """Now, timezone-aware in UTC."""
    return datetime.now(UTC)
