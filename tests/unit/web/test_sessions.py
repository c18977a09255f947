"""The server-side session table: expiry, idle timeout, bound, and sharing between processes.

Two :class:`SessionStore` objects on one file stand for two workers (each
opens its own SQLite connection, exactly as two processes do).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailserver.web.sessions import SessionStore, WebSession, open_database


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make_store(tmp_path: Path) -> Callable[..., SessionStore]:
    """Stores over one database file; all closed at the end."""
    made: list[SessionStore] = []

    def make(**settings: object) -> SessionStore:
        arguments: dict[str, object] = {"lifetime": 100, "idle_timeout": 100, "max_sessions": 10}
        arguments.update(settings)
        store = SessionStore(tmp_path / "run" / "web-sessions.sqlite3", **arguments)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield make  # type: ignore[misc]
    for store in made:
        store.close()


def request(store: SessionStore, session_id: str) -> WebSession | None:
    """What the middleware does for one request: read, then write back."""
    session = store.get(session_id)
    if session is not None:
        store.save(session)
    return session


def test_lifetime_and_idle_timeout(make_store: Callable[..., SessionStore]) -> None:
    clock = Clock()
    store = make_store(lifetime=100, idle_timeout=30, clock=clock)
    session = store.create("group1_1")
    clock.now += 20
    assert request(store, session.id) is not None
    clock.now += 29
    assert request(store, session.id) is not None  # each request restarts the idle clock
    clock.now += 30
    assert store.get(session.id) is None  # idle too long
    other = store.create("group1_1")
    for step in (25, 25, 25, 24):
        clock.now += step
        assert request(store, other.id) is not None
    clock.now += 1
    assert store.get(other.id) is None  # absolute lifetime reached


def test_bounded_anonymous_first(make_store: Callable[..., SessionStore]) -> None:
    clock = Clock()
    store = make_store(max_sessions=3, clock=clock)
    user = store.create("group1_1")
    for _ in range(10):
        clock.now += 1
        store.create()
    assert len(store) == 3
    found = store.get(user.id)
    assert found is not None and found.user == "group1_1"


def test_login_replaces_session(make_store: Callable[..., SessionStore]) -> None:
    store = make_store(max_sessions=3)
    anonymous = store.create()
    logged_in = store.login(anonymous, "group1_1")
    assert store.get(anonymous.id) is None
    assert logged_in.id != anonymous.id and logged_in.csrf != anonymous.csrf
    assert store.drop_user("group1_1") == 1


def test_every_end_of_a_login_is_reported(make_store: Callable[..., SessionStore]) -> None:
    clock = Clock()
    ended: list[tuple[str | None, str]] = []
    store = make_store(
        idle_timeout=30,
        max_sessions=2,
        clock=clock,
        on_end=lambda session, reason: ended.append((session.user, reason)),
    )
    first = store.create("group1_1")
    store.create()  # anonymous sessions end silently
    clock.now += 31
    assert store.sweep() == 2
    assert ended == [("group1_1", "expired")]
    kept = store.create("group1_2")
    clock.now += 1
    store.create("group1_3")
    clock.now += 1
    store.create("group1_4")  # the table is full: the oldest login goes
    assert ("group1_2", "evicted") in ended and store.get(kept.id) is None
    store.drop_user("group1_3")
    assert ended[-1] == ("group1_3", "reset")
    assert store.get(first.id) is None


def test_two_workers_share_logins_csrf_flashes_and_logout(
    make_store: Callable[..., SessionStore],
) -> None:
    clock = Clock()
    ended: list[tuple[str | None, str]] = []
    one = make_store(clock=clock, on_end=lambda s, reason: ended.append((s.user, reason)))
    two = make_store(clock=clock, on_end=lambda s, reason: ended.append((s.user, reason)))
    form = one.create()
    found = two.get(form.id)
    assert found is not None and found.csrf == form.csrf  # the login form's token
    session = two.login(found, "group1_1")
    assert one.get(form.id) is None
    seen = one.get(session.id)
    assert seen is not None and seen.user == "group1_1" and seen.csrf == session.csrf
    seen.flashes.append("Message sent.")
    seen.requests += 1
    seen.sent += 1
    one.save(seen)
    there = two.get(session.id)
    assert there is not None and there.flashes == ["Message sent."]
    there.flashes = []
    there.requests += 1
    two.save(there)
    again = one.get(session.id)
    assert again is not None and again.flashes == [] and (again.requests, again.sent) == (2, 1)
    two.drop(session.id)
    assert one.get(session.id) is None
    one.drop(session.id)  # already gone: nothing more to report
    assert ended == [("group1_1", "logout")]


def test_an_expired_login_is_reported_once_whichever_workers_sweep(
    make_store: Callable[..., SessionStore],
) -> None:
    clock = Clock()
    ended: list[str] = []
    stores = [
        make_store(idle_timeout=30, clock=clock, on_end=lambda s, reason: ended.append(reason))
        for _ in range(2)
    ]
    session = stores[0].create("group1_1")
    clock.now += 31
    assert stores[1].sweep() == 1
    assert stores[0].sweep() == 0 and stores[0].get(session.id) is None
    assert ended == ["expired"]


def test_listeners_are_apart_and_the_file_holds_no_cookie(
    make_store: Callable[..., SessionStore], tmp_path: Path
) -> None:
    http = make_store(listener="http")
    https = make_store(listener="https")
    session = https.create("group1_1")
    assert http.get(session.id) is None and len(http) == 0
    assert https.get(session.id) is not None
    data = b"".join(p.read_bytes() for p in (tmp_path / "run").iterdir())
    assert session.id.encode() not in data


def test_sessions_survive_a_restart(make_store: Callable[..., SessionStore]) -> None:
    first = make_store()
    session = first.create("group1_1")
    first.close()
    later = make_store()
    found = later.get(session.id)
    assert found is not None and found.user == "group1_1"


def _open_when_released(path: str, barrier: Any, errors: Any) -> None:
    barrier.wait()
    try:
        open_database(Path(path)).close()
    except Exception as exc:  # reported to the parent, which fails the test
        errors.put(repr(exc))


def test_workers_starting_together_all_open_a_new_table(tmp_path: Path) -> None:
    """The workers of ``workers: N`` open a table that does not exist yet at the same
    instant; each must get it (SQLite answers "database is locked" at once to the
    others while one switches the new file to WAL)."""
    context = multiprocessing.get_context("fork")
    errors = context.Queue()
    for round_ in range(40):
        path = str(tmp_path / f"round{round_}" / "run" / "web-sessions.sqlite3")
        barrier = context.Barrier(3)
        openers = [
            context.Process(target=_open_when_released, args=(path, barrier, errors))
            for _ in range(3)
        ]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(30)
            assert opener.exitcode == 0
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert failures == []
