"""A worker that starts late gets the sessions the others keep (Topic.SESSION_SYNC)."""

from __future__ import annotations

from mailserver.events import Event, LocalEventBus, Topic
from mailserver.events.model import current_pid
from mailserver.transcripts.archive import SessionRecord, TranscriptArchive

OTHER = 1  # an origin that is not this process


def session(bus: LocalEventBus, name: str, lines: int = 2, *, close: bool = True) -> None:
    def send(topic: str, **data: object) -> None:
        bus.publish(Event(topic, {"session": name, **data}, origin=OTHER))

    send(Topic.SESSION_OPENED, protocol="smtp", listener="smtp", peer="10.0.0.1:4000", tls=False)
    for number in range(lines):
        send(Topic.SESSION_LINES, lines=f"Cline {number} of {name}")
    if close:
        send(Topic.SESSION_CLOSED, counts={"commands": lines}, tls=False, user=None)


def test_a_late_archive_gets_every_session_once_in_order() -> None:
    old_bus = LocalEventBus()
    old = TranscriptArchive(keep_sessions=10)
    old.attach(old_bus)
    for name in ("a", "b", "c"):
        session(old_bus, name)
    session(old_bus, "live", close=False)
    answers: list[Event] = []
    old_bus.subscribe(Topic.SESSION_SYNC, answers.append)
    old_bus.publish(Event(Topic.SESSION_SYNC, {"action": "ask"}, origin=OTHER))
    records = [e for e in answers if e.data.get("action") == "record"]
    assert len(records) == 4

    replies = [e for e in answers if e.data["action"] != "ask"]
    assert all(e.data["to"] == OTHER for e in replies)  # to the asker alone
    assert replies[-1].data == {"action": "done", "request": None, "to": OTHER}

    new_bus = LocalEventBus()
    new = TranscriptArchive(keep_sessions=2)
    new.attach(new_bus)
    # The answers as this process (the asker) hears them; an answer to a third
    # process is not for it.
    here = {**records[0].data, "to": OTHER + 1}
    new_bus.publish(Event(Topic.SESSION_SYNC, here, origin=OTHER))
    assert not new.finished and not new.live
    for event in [*records, *reversed(records)]:  # two old workers answering
        new_bus.publish(Event(event.topic, {**event.data, "to": current_pid()}, origin=OTHER))
    assert list(new.finished) == ["b", "c"]  # the newest two, oldest first
    assert new.get("c") is not None and new.get("c").lines[1][2] == "line 1 of c"  # type: ignore[union-attr]
    assert list(new.live) == ["live"]


def test_a_synced_live_session_that_already_ended_here_stays_ended() -> None:
    bus = LocalEventBus()
    archive = TranscriptArchive()
    archive.attach(bus)
    bus.publish(Event(Topic.SESSION_CLOSED, {"session": "gone", "counts": {}}, origin=OTHER))
    record = SessionRecord("gone", "smtp", "smtp", "10.0.0.1:1", False, 1.0)
    bus.publish(
        Event(Topic.SESSION_SYNC, {"action": "record", "record": record.to_json()}, origin=OTHER)
    )
    assert archive.get("gone") is None


def test_malformed_records_are_ignored_and_big_ones_cut() -> None:
    for bad in (
        None,
        3,
        {"id": "x"},
        {**SessionRecord("x", "", "", "", False, 0).to_json(), "batches": [[1]]},
    ):
        assert SessionRecord.from_json(bad) is None
    big = SessionRecord("big", "imap", "imap", "10.0.0.1:1", False, 1.0)
    for _ in range(1000):
        big.add(1.0, "S" + "x" * 1000)
    data = big.to_json(100_000)
    assert len(data["batches"]) < 100 and data["dropped"] == 1000 - len(data["batches"])
    copy = SessionRecord.from_json(data)
    assert copy is not None and copy.octets <= 100_000


def test_a_dead_workers_mail_sessions_end_and_web_logins_stay() -> None:
    bus = LocalEventBus()
    archive = TranscriptArchive()
    archive.attach(bus)
    session(bus, "smtp-on-victim", close=False)
    bus.publish(
        Event(
            Topic.SESSION_OPENED,
            {"session": "web-1", "protocol": "http", "listener": "http", "peer": "10.0.0.2:1"},
            origin=OTHER,
        )
    )
    bus.publish(Event(Topic.CONTROL, {"action": "worker.gone", "pid": OTHER + 1}, origin=2))
    assert set(archive.live) == {"smtp-on-victim", "web-1"}  # another worker died
    bus.publish(Event(Topic.CONTROL, {"action": "worker.gone", "pid": OTHER}, origin=2))
    assert set(archive.live) == {"web-1"}
    ended = archive.get("smtp-on-victim")
    assert ended is not None and ended.ended is not None
    assert ended.lines[-1][1:] == ("*", "connection lost: its worker process ended")
