"""The in-process event bus: topics, the wildcard, and handlers that fail."""

from __future__ import annotations

import json

from mailserver.events import Event, LocalEventBus, Topic


def test_a_subscriber_hears_its_topic_and_not_others() -> None:
    bus = LocalEventBus()
    heard: list[Event] = []
    bus.subscribe(Topic.MAILBOX, heard.append)
    bus.emit(Topic.MAILBOX, user="group1_1", folder="INBOX", change="messages")
    bus.emit(Topic.AUTH, ip="127.0.0.1", user=None, action="failure")
    assert [event.data["folder"] for event in heard] == ["INBOX"]


def test_wildcard_hears_everything_and_wants_reflects_subscribers() -> None:
    bus = LocalEventBus()
    assert not bus.wants(Topic.SESSION_LINES)
    heard: list[str] = []
    subscription = bus.subscribe("*", lambda event: heard.append(event.topic))
    assert bus.wants(Topic.SESSION_LINES)
    bus.emit(Topic.SESSION_LINES, session="s1", direction="C", text="EHLO x")
    subscription.close()
    subscription.close()
    bus.emit(Topic.SESSION_LINES, session="s1", direction="S", text="250 ok")
    assert heard == [Topic.SESSION_LINES]
    assert not bus.wants(Topic.SESSION_LINES)


def test_a_failing_handler_does_not_stop_the_others() -> None:
    bus = LocalEventBus()
    heard: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    bus.subscribe(Topic.AUTH, broken)
    bus.subscribe(Topic.AUTH, heard.append)
    bus.emit(Topic.AUTH, ip="127.0.0.1", user="x", action="failure")
    assert len(heard) == 1


def test_events_round_trip_through_json() -> None:
    event = Event(Topic.SESSION_CLOSED, {"session": "s", "duration": 1.5, "counts": {"RETR": 2}})
    again = Event.from_json(json.loads(json.dumps(event.to_json())))
    assert again == event


def test_quiet_subscriptions_hear_but_do_not_announce() -> None:
    """``local_topics`` is what a process asks the others to send: only announcing
    subscribers count, and a topic stays announced while one of them is left."""
    bus = LocalEventBus()
    heard: list[str] = []
    quiet = bus.subscribe(Topic.SESSION_LINES, lambda e: heard.append("quiet"), announce=False)
    assert bus.wants(Topic.SESSION_LINES) and bus.local_topics() == frozenset()
    first = bus.subscribe(Topic.SESSION_LINES, lambda e: heard.append("first"))
    second = bus.subscribe(Topic.SESSION_LINES, lambda e: heard.append("second"))
    assert bus.local_topics() == {Topic.SESSION_LINES}
    first.close()
    assert bus.local_topics() == {Topic.SESSION_LINES}
    bus.emit(Topic.SESSION_LINES, session="s1", lines="CEHLO x")
    second.close()
    assert bus.local_topics() == frozenset() and bus.wants(Topic.SESSION_LINES)
    quiet.close()
    assert not bus.wants(Topic.SESSION_LINES)
    assert heard == ["quiet", "second"]
