"""What a test may leave behind: asyncio tasks still pending, sockets still open, and objects
collected unclosed (the ResourceWarnings of unclosed files, sockets, transports and Kafka
clients): `collect_unclosed` after each test, `Leaks` before and after each module."""

from __future__ import annotations

import asyncio
import gc
import os
import warnings
from pathlib import Path

FDS = Path("/proc/self/fd")
NET = Path("/proc/self/net")


def open_sockets() -> set[str]:
    """This process's open TCP sockets (connections and listeners), as "fd: local -> remote".

    Unix socket pairs are left out: they are plumbing that lives as long as the process (the
    event loop's wake-up pair, gRPC's poller), not a client or a server a test opened."""
    tcp = _tcp_sockets()
    sockets = set()
    for fd in os.listdir(FDS):
        try:
            target = os.readlink(FDS / fd)
        except OSError:  # closed while listing (the listing's own descriptor, among others)
            continue
        inode = target.removeprefix("socket:[").removesuffix("]")
        if inode in tcp:
            sockets.add(f"fd {fd}: {tcp[inode]}")
    return sockets


def _tcp_sockets() -> dict[str, str]:
    """inode -> "local -> remote" of every TCP socket of this process's network namespace."""
    sockets = {}
    for table in ("tcp", "tcp6"):
        lines = (NET / table).read_text().splitlines()[1:]
        for fields in (line.split() for line in lines):
            sockets[fields[9]] = f"{_address(fields[1])} -> {_address(fields[2])}"
    return sockets


def _address(hex_address: str) -> str:
    """ "0100007F:1F90" -> "127.0.0.1:8080" (IPv4; IPv6 addresses stay in hex)."""
    host, port = hex_address.split(":")
    if len(host) == 8:
        host = ".".join(str(int(host[i : i + 2], 16)) for i in (6, 4, 2, 0))
    return f"{host}:{int(port, 16)}"


def collect_unclosed() -> list[str]:
    """Collect garbage now, so that an object dropped unclosed warns during this test; the
    ResourceWarnings that raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


class Leaks:
    """Stock taken before a module: `after()` lists what its tests and fixtures left behind,
    tasks still pending and sockets still open. Checked per module, not per test: a module's
    own fixtures (a server, a Kafka consumer) open connections and start tasks lazily, during
    its tests, and close them at its end."""

    def __init__(self) -> None:
        self._tasks = asyncio.all_tasks()
        self._sockets = open_sockets()

    async def after(self) -> list[str]:
        for _ in range(5):
            await asyncio.sleep(0)  # loop turns, no time: tasks cancelled in a teardown finish
        current = asyncio.current_task()
        tasks = [
            f"task {task!r}"
            for task in asyncio.all_tasks() - self._tasks
            if task is not current and not task.done()
        ]
        unclosed = [f"unclosed: {message}" for message in collect_unclosed()]
        return [*tasks, *unclosed, *(f"socket {s}" for s in sorted(open_sockets() - self._sockets))]
