"""A worker's archive keeps its own sessions and gathers the others' when read.

Two "workers" are two RemoteEventBus objects joined through a real hub over
socketpairs (``tests/unit/events/test_hub.py``); being one process, the
other worker's answers are published with a distinct origin.
"""

from __future__ import annotations

import asyncio

import pytest

from mailserver.events import Event, Topic
from mailserver.events.hub import HubEventBus
from mailserver.events.model import current_pid
from mailserver.transcripts import archive as archive_module
from mailserver.transcripts.archive import SessionRecord, TranscriptArchive
from tests.unit.events.test_hub import joined, until

OTHER = 1  # the pid of "the other worker"


async def test_no_session_travels_until_a_console_reads_then_they_travel_live(
    hub: HubEventBus, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    one, two = await joined(hub), await joined(hub)
    serving, reading = TranscriptArchive(), TranscriptArchive()
    serving.attach(one)
    reading.attach(two)
    await until(lambda: one.peers == 1 and Topic.SESSION_SYNC in one._remote)
    assert not set(archive_module.SESSION_TOPICS) & one._remote  # nobody asks for them
    monkeypatch.setattr(archive_module, "WATCH_SECONDS", 0.5)
    # The serving archive ignores a question from its own pid (one process here), so
    # nobody answers: gather gives up after its timeout, and says so.
    await reading.gather(timeout=0.3)
    assert "not every worker answered" in caplog.text
    await until(lambda: Topic.SESSION_LINES in one._remote)
    one.publish(Event(Topic.SESSION_OPENED, {"session": "s1", "protocol": "smtp"}, origin=OTHER))
    await until(lambda: "s1" in reading.live)
    # Unread for WATCH_SECONDS: the other worker stops sending, and its live sessions
    # (whose ends would go unheard) are forgotten here.
    await until(lambda: Topic.SESSION_LINES not in one._remote)
    await until(lambda: "s1" not in reading.live)
    assert "s1" in serving.live  # where it is served, it stays
    serving.detach()
    reading.detach()
    await one.close()
    await two.close()


async def test_gather_returns_once_every_other_worker_answered(hub: HubEventBus) -> None:
    one, two = await joined(hub), await joined(hub)
    reading = TranscriptArchive()
    reading.attach(two)
    asked: list[Event] = []
    one.subscribe(Topic.SESSION_SYNC, asked.append)
    await until(lambda: two.peers == 1 and Topic.SESSION_SYNC in two._remote)
    gathering = asyncio.create_task(reading.gather(timeout=30))
    await until(lambda: bool(asked))
    assert asked[0].data["action"] == "ask" and not gathering.done()
    record = SessionRecord("old", "pop3", "pop3", "10.0.0.9:1", False, 1.0, ended=2.0)
    record.add(1.5, "CUSER group1_1")
    here = current_pid()
    for data in (
        {"action": "record", "record": record.to_json(), "to": here},
        {"action": "done", "request": "someone else's", "to": here},
        {"action": "done", "request": asked[0].data["request"], "to": here},
    ):
        one.publish(Event(Topic.SESSION_SYNC, data, origin=OTHER))
    async with asyncio.timeout(10):
        await gathering
    found = reading.get("old")
    assert found is not None and found.lines[0][1:] == ("C", "USER group1_1")
    # Watching now: the next read does not ask again.
    await reading.gather(timeout=30)
    assert [event.data["action"] for event in asked].count("ask") == 1
    reading.detach()
    await one.close()
    await two.close()


async def test_a_stopping_worker_hands_its_sessions_to_the_others(hub: HubEventBus) -> None:
    """SIGHUP stops the old workers one at a time: what one kept goes to the rest."""
    one, two = await joined(hub), await joined(hub)
    leaving, staying = TranscriptArchive(), TranscriptArchive()
    leaving.attach(one)
    staying.attach(two)
    await until(lambda: one.peers == 1 and Topic.SESSION_SYNC in one._remote)
    one.publish(Event(Topic.SESSION_OPENED, {"session": "typed", "protocol": "smtp"}))
    one.publish(Event(Topic.SESSION_LINES, {"session": "typed", "lines": "CEHLO pc1"}))
    one.publish(Event(Topic.SESSION_CLOSED, {"session": "typed", "counts": {}}))
    assert "typed" in leaving.finished and staying.get("typed") is None
    # The record's answer carries our pid as origin, which the staying archive (also
    # ours) would ignore: hand it over as the other worker would.
    sent: list[Event] = []
    one.subscribe(Topic.SESSION_SYNC, sent.append)
    leaving.hand_over()
    assert [event.data["action"] for event in sent] == ["record"]
    assert "to" not in sent[0].data  # for every process
    two.publish(Event(Topic.SESSION_SYNC, sent[0].data, origin=OTHER))
    kept = staying.get("typed")
    assert kept is not None and kept.lines[0][1:] == ("C", "EHLO pc1")
    leaving.detach()
    staying.detach()
    await one.close()
    await two.close()


async def test_under_a_hub_that_does_not_count_its_workers_gather_waits_out_its_time(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A supervisor of an earlier release (SIGHUP brought new workers, not a new
    supervisor) says nothing of its peers: the console still asks, takes what comes
    within the timeout, and web logins go out as plain events."""
    from mailserver.events import hub as hub_module
    from mailserver.events.link import interest_message

    monkeypatch.setattr(
        hub_module, "interest_message", lambda topics, peers: interest_message(topics)
    )
    old_hub = HubEventBus()
    one, two = await joined(old_hub), await joined(old_hub)
    reading = TranscriptArchive()
    reading.attach(two)
    asked: list[Event] = []
    one.subscribe(Topic.SESSION_SYNC, asked.append)
    await until(lambda: Topic.SESSION_SYNC in two._remote)
    assert two.peers is None
    gathering = asyncio.create_task(reading.gather(timeout=3))
    await until(lambda: bool(asked))
    record = SessionRecord("old", "pop3", "pop3", "10.0.0.9:1", False, 1.0, ended=2.0)
    for data in (
        {"action": "record", "record": record.to_json(), "to": current_pid()},
        {"action": "done", "request": asked[0].data["request"], "to": current_pid()},
    ):
        one.publish(Event(Topic.SESSION_SYNC, data, origin=OTHER))
    question = reading._question
    await until(lambda: question is not None and OTHER in question.heard_from)
    assert reading.get("old") is not None
    assert not gathering.done()  # one "done" does not say that all have answered
    async with asyncio.timeout(10):
        await gathering  # the timeout, without a warning: no count was promised
    assert "not every worker answered" not in caplog.text
    # An old hub would drop a "broadcast" it does not know: a plain event goes instead.
    link = one._link
    assert link is not None
    kinds: list[object] = []
    monkeypatch.setattr(link, "send", lambda message, **_: kinds.append(message["t"]))
    one.broadcast(Event(Topic.SESSION_CLOSED, {"session": "web-1"}))
    assert kinds == ["event"]
    reading.detach()
    await one.close()
    await two.close()
    await old_hub.close()
