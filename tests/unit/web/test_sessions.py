"""The server-side session table: expiry, idle timeout, bound."""

from __future__ import annotations

from mailserver.web.sessions import SessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lifetime_and_idle_timeout() -> None:
    clock = Clock()
    store = SessionStore(lifetime=100, idle_timeout=30, max_sessions=10, clock=clock)
    session = store.create("group1_1")
    clock.now += 20
    assert store.get(session.id) is session
    clock.now += 29
    assert store.get(session.id) is session  # each request restarts the idle clock
    clock.now += 30
    assert store.get(session.id) is None  # idle too long
    other = store.create("group1_1")
    for step in (25, 25, 25, 24):
        clock.now += step
        assert store.get(other.id) is other
    clock.now += 1
    assert store.get(other.id) is None  # absolute lifetime reached


def test_bounded_anonymous_first() -> None:
    clock = Clock()
    store = SessionStore(lifetime=100, idle_timeout=100, max_sessions=3, clock=clock)
    user = store.create("group1_1")
    for _ in range(10):
        store.create()
    assert len(store) == 3
    assert store.get(user.id) is user


def test_login_replaces_session() -> None:
    store = SessionStore(lifetime=100, idle_timeout=100, max_sessions=3)
    anonymous = store.create()
    logged_in = store.login(anonymous, "group1_1")
    assert store.get(anonymous.id) is None
    assert logged_in.id != anonymous.id and logged_in.csrf != anonymous.csrf
    assert store.drop_user("group1_1") == 1
