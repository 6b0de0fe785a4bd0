"""What a test may leave behind: asyncio tasks still pending, sockets still open, and objects
collected unclosed (the ResourceWarnings of unclosed files, sockets, transports and Kafka
clients). `Leaks` takes stock before a test and names what is new after it."""

from __future__ import annotations

import asyncio
import gc
import os
import warnings
from pathlib import Path

FDS = Path("/proc/self/fd")


def open_sockets() -> set[str]:
    """This process's open socket file descriptors ("fd -> socket:[inode]")."""
    sockets = set()
    for fd in os.listdir(FDS):
        try:
            target = os.readlink(FDS / fd)
        except OSError:  # closed while listing (the listing's own descriptor, among others)
            continue
        if target.startswith("socket:"):
            sockets.add(f"{fd} -> {target}")
    return sockets


def collect_unclosed() -> list[str]:
    """Collect garbage now, so that an object dropped unclosed warns during this test; the
    ResourceWarnings that raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


class Leaks:
    """Stock taken before a test; `after()` lists what the test left behind."""

    def __init__(self) -> None:
        collect_unclosed()  # what earlier tests dropped is theirs, not this test's
        self._tasks = asyncio.all_tasks()
        self._sockets = open_sockets()

    async def after(self) -> list[str]:
        # Pacing: a task cancelled at the end of the test needs a few loop turns to finish.
        for _ in range(5):
            await asyncio.sleep(0)
        current = asyncio.current_task()
        tasks = [
            f"task {task!r}"
            for task in asyncio.all_tasks() - self._tasks
            if task is not current and not task.done()
        ]
        unclosed = [f"unclosed: {message}" for message in collect_unclosed()]
        sockets = [f"socket {s}" for s in sorted(open_sockets() - self._sockets)]
        return [*tasks, *unclosed, *sockets]
