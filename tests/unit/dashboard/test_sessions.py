"""Dashboard sessions expire and close; sign-in failures from one client are slowed down."""

from __future__ import annotations

from services.dashboard.sessions import Identity, Role, SessionStore, SigninThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_session_keeps_the_key_server_side_until_it_expires_or_closes():
    clock = Clock()
    store = SessionStore(ttl_s=60, max_sessions=10, clock=clock)
    session = store.open("site-north.secret", Identity(Role.SITE, "site-north", "Northern"))
    assert "site-north.secret" not in session.token and len(session.token) >= 40
    assert store.get(session.token) is session
    clock.now += 59
    assert store.get(session.token) is session
    clock.now += 2
    assert store.get(session.token) is None
    other = store.open("coordinator.secret", Identity(Role.COORDINATOR))
    store.close(other.token)
    assert store.get(other.token) is None and len(store) == 0


def test_the_oldest_session_is_dropped_beyond_the_limit():
    store = SessionStore(ttl_s=60, max_sessions=2, clock=Clock())
    first, second, third = (store.open(f"k{i}", Identity(Role.COORDINATOR)) for i in range(3))
    assert store.get(first.token) is None
    assert store.get(second.token) is second and store.get(third.token) is third


def test_repeated_failures_from_one_client_wait_longer_and_a_success_clears_them():
    throttle = SigninThrottle(free_failures=2, max_delay_s=4)
    delays = []
    for _ in range(6):
        delays.append(throttle.delay_s("10.0.0.1"))
        throttle.failed("10.0.0.1")
    assert delays == [0, 0, 0.5, 1, 2, 4]
    assert throttle.delay_s("10.0.0.2") == 0
    throttle.succeeded("10.0.0.1")
    assert throttle.delay_s("10.0.0.1") == 0
