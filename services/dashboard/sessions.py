"""Server-side sessions: the browser holds only an opaque random token (an HttpOnly,
SameSite=Strict cookie); the user's API key stays here, in memory, until sign-out or expiry.

Sign-in failures are counted per client address: after a few, every further attempt from
that address waits longer (doubling, up to a cap) before it is answered, and a success
clears the count.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

COOKIE_NAME = "jedi_session"


class Role(StrEnum):
    SITE = "site"
    COORDINATOR = "coordinator"


@dataclass(frozen=True)
class Identity:
    """Who a key belongs to, as the query service answered it."""

    role: Role
    # A site's own id and name; None for a coordinator.
    site_id: str | None = None
    site_name: str | None = None


@dataclass(frozen=True)
class Session:
    token: str
    api_key: str
    identity: Identity
    expires_at: float  # time.monotonic() seconds

    @property
    def is_coordinator(self) -> bool:
        return self.identity.role is Role.COORDINATOR


class SessionStore:
    def __init__(
        self, *, ttl_s: float, max_sessions: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._max = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, api_key: str, identity: Identity) -> Session:
        self._drop_expired()
        session = Session(secrets.token_urlsafe(32), api_key, identity, self._clock() + self._ttl_s)
        self._sessions[session.token] = session
        while len(self._sessions) > self._max:
            self._sessions.popitem(last=False)
        return session

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        session = self._sessions.get(token)
        if session is None:
            return None
        if session.expires_at <= self._clock():
            del self._sessions[token]
            return None
        return session

    def close(self, token: str | None) -> None:
        if token:
            self._sessions.pop(token, None)

    def remaining_s(self, session: Session) -> float:
        return max(0.0, session.expires_at - self._clock())

    def _drop_expired(self) -> None:
        now = self._clock()
        for token in [t for t, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[token]


class SigninThrottle:
    """Failures per client; `delay_s` is how long the next attempt from it must wait."""

    def __init__(
        self, *, free_failures: int, max_delay_s: float, max_clients: int = 10_000
    ) -> None:
        self._free = free_failures
        self._max_delay_s = max_delay_s
        self._max_clients = max_clients
        self._failures: OrderedDict[str, int] = OrderedDict()

    def delay_s(self, client: str) -> float:
        extra = self._failures.get(client, 0) - self._free
        return 0.0 if extra < 0 else min(self._max_delay_s, 0.5 * 2**extra)

    def failed(self, client: str) -> None:
        self._failures[client] = self._failures.pop(client, 0) + 1
        while len(self._failures) > self._max_clients:
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
