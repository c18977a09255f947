"""The activity record (exercises, merging, the file) and the control socket's protocol."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, cast

from mailserver.activity import ActivityTracker, exercises_done, load_activity
from mailserver.activity.tracker import merge
from mailserver.auth import Authenticator
from mailserver.auth.throttle import LoginThrottle, ThrottlePolicy
from mailserver.config import Config
from mailserver.control import ControlContext, ControlServer
from mailserver.events import Event, LocalEventBus, Topic
from mailserver.services import Services
from mailserver.storage import MailStore


def closed(**data: Any) -> dict[str, Any]:
    return {"user": "group1_1", "tls": False, "counts": {}, **data}


def test_exercises_from_a_finished_session() -> None:
    assert exercises_done(closed(protocol="smtp", counts={"messages": 1})) == ["smtp-auth-send"]
    assert exercises_done(closed(protocol="smtp", user=None, counts={"messages": 1})) == []
    pop = closed(protocol="pop3", counts={"retrieved": 2})
    assert exercises_done(pop) == [], "no QUIT, no UPDATE: not the exercise"
    pop["counts"]["updated"] = 1
    assert exercises_done(pop) == ["pop3-download"]
    imap = closed(protocol="imap", tls=True, counts={"uid_fetch": 1})
    assert exercises_done(imap) == ["imap-uid-fetch", "tls"]


def test_merge_keeps_the_later_login_and_every_exercise() -> None:
    old = {"last_login": 10.0, "protocol": "pop3", "exercises": {"tls": 5.0}, "logins": 2}
    new = {"last_login": 20.0, "protocol": "imap", "exercises": {"tls": 15.0, "x": 16.0}}
    merged = merge(old, new)
    assert merged["protocol"] == "imap" and merged["last_login"] == 20.0
    assert merged["exercises"] == {"tls": 5.0, "x": 16.0}
    assert merge(new, old)["protocol"] == "imap"


async def test_tracker_writes_the_file_soon_and_at_close(tmp_path: Path) -> None:
    path = tmp_path / "activity.json"
    bus = LocalEventBus()
    tracker = ActivityTracker(path)
    tracker.attach(bus)
    about = {"session": "s1", "protocol": "imap", "listener": "imaps", "peer": "10.0.0.1:5"}
    bus.publish(Event(Topic.SESSION_LOGIN, {**about, "user": "Group1_1", "mechanism": "LOGIN"}))
    bus.publish(
        Event(
            Topic.SESSION_CLOSED,
            {**about, "user": "group1_1", "tls": True, "counts": {"uid_fetch": 1}},
        )
    )
    async with asyncio.timeout(10):
        while "group1_1" not in load_activity(path):
            await asyncio.sleep(0.05)
    entry = load_activity(path)["group1_1"]
    assert entry["protocol"] == "imap" and entry["peer"] == "10.0.0.1:5"
    assert set(entry["exercises"]) == {"imap-uid-fetch", "tls"}
    await tracker.close()
    # A second tracker (another process, a restart) adds to what is there.
    again = ActivityTracker(path)
    assert again.accounts["group1_1"]["logins"] == 1


async def test_each_worker_records_its_own_sessions_and_logins_add_up(tmp_path: Path) -> None:
    """Every worker keeps a tracker for the sessions it served (no worker sends each
    session's end to another for this); on disk their logins add up."""
    path = tmp_path / "activity.json"
    trackers = [ActivityTracker(path), ActivityTracker(path)]
    buses = [LocalEventBus(), LocalEventBus()]
    for tracker, bus in zip(trackers, buses, strict=True):
        tracker.attach(bus)
    about = {"protocol": "pop3", "listener": "pop3", "peer": "10.0.0.1:5", "mechanism": "USER"}
    for number in range(2):
        buses[0].publish(
            Event(Topic.SESSION_LOGIN, {**about, "session": f"a{number}", "user": "group1_1"})
        )
    for number in range(3):
        buses[1].publish(
            Event(Topic.SESSION_LOGIN, {**about, "session": f"b{number}", "user": "group1_1"})
        )
    # Heard from another worker (a console watching): that worker records it.
    buses[1].publish(
        Event(Topic.SESSION_LOGIN, {**about, "session": "c", "user": "group1_1"}, origin=1)
    )
    for tracker in trackers:
        await tracker.close()
    assert load_activity(path)["group1_1"]["logins"] == 5
    again = ActivityTracker(path)
    again.attach(buses[0])
    buses[0].publish(Event(Topic.SESSION_LOGIN, {**about, "session": "d", "user": "group1_1"}))
    await again.close()
    assert load_activity(path)["group1_1"]["logins"] == 6


def test_tracker_hands_the_writer_thread_a_copy_it_alone_reads(tmp_path: Path) -> None:
    """The batch ``_write`` merges in a worker thread must not share the exercises dict
    the event loop keeps adding to (a session ending meanwhile): a dict that grows
    while ``merge`` iterates it raises ``RuntimeError`` and the batch is lost."""
    tracker = ActivityTracker(tmp_path / "activity.json")
    about = {"session": "s1", "protocol": "imap", "listener": "imap", "peer": "10.0.0.1:5"}
    tracker._login(Event(Topic.SESSION_LOGIN, {**about, "user": "group1_1"}))
    tracker._closed(Event(Topic.SESSION_CLOSED, closed(protocol="imap", counts={"uid_fetch": 1})))
    batch = tracker._take_dirty()  # what the writer thread gets
    taken = dict(batch["group1_1"]["exercises"])
    # The loop carries on while the thread writes: another session of the user ends.
    tracker._closed(Event(Topic.SESSION_CLOSED, closed(protocol="imap", tls=True)))
    assert "tls" in tracker.accounts["group1_1"]["exercises"]
    assert batch["group1_1"]["exercises"] == taken


async def test_control_server_answers_and_refuses(tmp_path: Path) -> None:
    throttle = LoginThrottle(ThrottlePolicy(block_after=1))
    throttle.record_failure("192.0.2.1", None)
    auth = cast(Authenticator, type("A", (), {"throttle": throttle})())
    config = Config(hostname="h", domains=("h",), data_dir=tmp_path)
    services = Services(config=config, store=cast(MailStore, object()), auth=auth)
    server = ControlServer(tmp_path / "run" / "control.sock", ControlContext(services))
    await server.start()
    try:
        assert (server.path.stat().st_mode & 0o777) == 0o600
        reader, writer = await asyncio.open_unix_connection(str(server.path))

        async def ask(raw: bytes) -> dict[str, Any]:
            writer.write(raw + b"\n")
            answer: dict[str, Any] = json.loads(await reader.readline())
            return answer

        listing = await ask(b'{"command": "throttle.list"}')
        assert listing["result"]["blocked"][0]["address"] == "192.0.2.1"
        assert (await ask(b"not json"))["ok"] is False
        assert "unknown command" in (await ask(b'{"command": "rm -rf"}'))["error"]
        bad = await ask(b'{"command": "throttle.unblock", "args": {"address": "x"}}')
        assert bad == {"ok": False, "error": "not an IP address: 'x'"}
        done = await ask(b'{"command": "throttle.unblock", "args": {"address": "192.0.2.1"}}')
        assert done["result"]["was_blocked"] is True
        assert not throttle.is_blocked("192.0.2.1")
        no_archive = await ask(b'{"command": "sessions.list"}')
        assert no_archive["ok"] is False
        writer.close()
    finally:
        await server.close()
    assert not server.path.exists()
