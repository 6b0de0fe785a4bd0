"""Waiting in tests: `eventually`, the one poll loop, which fails loudly when time runs out."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast, overload

T = TypeVar("T")
MAX_SHOWN = 2000  # characters of the last observed value a timeout shows


@overload
async def eventually(
    observe: Callable[[], Awaitable[T]],
    timeout: float,
    *,
    what: str,
    until: Callable[[T], object] | None = None,
    ignoring: tuple[type[BaseException], ...] = (),
    interval: float = 0.1,
) -> T: ...


@overload
async def eventually(
    observe: Callable[[], T],
    timeout: float,
    *,
    what: str,
    until: Callable[[T], object] | None = None,
    ignoring: tuple[type[BaseException], ...] = (),
    interval: float = 0.1,
) -> T: ...


async def eventually(
    observe: Callable[[], T | Awaitable[T]],
    timeout: float,
    *,
    what: str,
    until: Callable[[T], object] | None = None,
    ignoring: tuple[type[BaseException], ...] = (),
    interval: float = 0.1,
) -> T:
    """The first value of `observe()` (awaited if need be) for which `until` holds (by
    default: the first true value).

    An exception of a type in `ignoring` counts as "not yet"; any other one ends the wait (a
    condition may raise to say that waiting is pointless, e.g. a process exited). After
    `timeout` seconds, an AssertionError says what was awaited and what was last observed.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: object = "nothing (no observation finished)"
    while True:
        try:
            raw = observe()
            value = cast(T, await raw) if inspect.isawaitable(raw) else raw
        except ignoring as error:
            last = error
        else:
            if until(value) if until is not None else value:
                return value
            last = value
        if loop.time() >= deadline:
            observed = repr(last)
            if len(observed) > MAX_SHOWN:
                observed = observed[:MAX_SHOWN] + " ..."
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what}; last observed: {observed}"
            )
        await asyncio.sleep(interval)  # pacing: what is observed changes elsewhere; look again
