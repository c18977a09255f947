"""The cross-process event channel, hub and workers joined by real socketpairs.

The "workers" here are RemoteEventBus objects in this process (their pids
are all ours, so events carry a distinct fake origin where it matters);
the bytes still cross real sockets, through the same code as between
processes.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from mailserver.events import Event, Topic
from mailserver.events import link as link_module
from mailserver.events.hub import HubEventBus
from mailserver.events.remote import RemoteEventBus

DEADLINE = 10.0


async def joined(hub: HubEventBus) -> RemoteEventBus:
    """A worker-side bus linked to ``hub`` over a socketpair, started."""
    ours, theirs = socket.socketpair()
    await hub.add_socket(ours)
    used = False

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        nonlocal used
        if used:
            raise ConnectionRefusedError("socketpair")
        used = True
        return await asyncio.open_unix_connection(sock=theirs)

    bus = RemoteEventBus(connect, on_lost=lambda: None)
    await bus.start()
    return bus


async def until(condition: Callable[[], bool]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_an_event_reaches_the_other_worker_and_the_hub_but_is_not_echoed(
    hub: HubEventBus,
) -> None:
    one, two = await joined(hub), await joined(hub)
    heard_one: list[Event] = []
    heard_two: list[Event] = []
    heard_hub: list[Event] = []
    hub.subscribe(Topic.MAILBOX, heard_hub.append)
    two.subscribe(Topic.MAILBOX, heard_two.append)
    one.subscribe(Topic.MAILBOX, heard_one.append)
    await until(lambda: Topic.MAILBOX in one._remote)
    one.emit(Topic.MAILBOX, user="group1_1", folder="INBOX", change="messages")
    assert len(heard_one) == 1  # delivered locally at once
    await until(lambda: bool(heard_two) and bool(heard_hub))
    assert heard_two[0].data == {"user": "group1_1", "folder": "INBOX", "change": "messages"}
    await asyncio.sleep(0.2)
    # Once each: the hub does not send an event back to the worker it came from.
    assert len(heard_one) == 1 and len(heard_two) == 1 and len(heard_hub) == 1
    await one.close()
    await two.close()


async def test_wants_answers_for_every_process_and_follows_unsubscribe(
    hub: HubEventBus,
) -> None:
    one, two = await joined(hub), await joined(hub)
    assert not one.wants(Topic.SESSION_LINES)
    subscription = two.subscribe(Topic.SESSION_LINES, lambda event: None)
    await until(lambda: one.wants(Topic.SESSION_LINES))
    subscription.close()
    await until(lambda: not one.wants(Topic.SESSION_LINES))
    # The hub's own subscribers count too (the console lives in the supervisor).
    hub.subscribe("*", lambda event: None)
    await until(lambda: one.wants(Topic.SESSION_LINES) and two.wants(Topic.AUTH))
    await one.close()
    await two.close()


async def test_nothing_is_sent_when_nobody_elsewhere_listens(hub: HubEventBus) -> None:
    one = await joined(hub)
    await joined(hub)
    heard: list[Event] = []
    hub.subscribe(Topic.AUTH, heard.append)
    await until(lambda: one.wants(Topic.AUTH))
    one.publish(Event(Topic.SESSION_LINES, {"session": "s", "direction": "C", "text": "x"}))
    one.publish(Event(Topic.AUTH, {"ip": "10.0.0.1", "user": None, "action": "failure"}))
    await until(lambda: bool(heard))
    assert [event.topic for event in heard] == [Topic.AUTH]


async def test_a_peer_that_does_not_read_costs_dropped_events_not_memory(
    hub: HubEventBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(link_module, "MAX_QUEUE", 50)
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    link = await hub.add_socket(ours)
    # The peer says it wants everything, then never reads again.
    theirs.send(b'{"t":"interest","topics":["*"]}\n')
    await until(lambda: hub.wants(Topic.SESSION_LINES))
    big = "x" * 10_000
    for number in range(2000):
        hub.publish(Event(Topic.SESSION_LINES, {"session": "s", "n": number, "text": big}))
    assert link.dropped > 0
    assert len(link._queue) <= 50
    theirs.close()


async def test_a_lost_link_is_reported_and_leaves_the_bus_local(hub: HubEventBus) -> None:
    ours, theirs = socket.socketpair()
    await hub.add_socket(ours)
    lost: list[bool] = []

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_unix_connection(sock=theirs)

    bus = RemoteEventBus(connect, on_lost=lambda: lost.append(True))
    await bus.start()
    hub.subscribe(Topic.AUTH, lambda event: None)
    await until(lambda: bus.wants(Topic.AUTH))
    await hub.close()
    await until(lambda: bool(lost))
    assert not bus.wants(Topic.AUTH)
    heard: list[Event] = []
    bus.subscribe(Topic.AUTH, heard.append)
    bus.emit(Topic.AUTH, ip="10.0.0.1", user=None, action="failure")
    assert len(heard) == 1  # local delivery goes on
    await bus.close()


async def test_the_bus_reconnects_without_on_lost() -> None:
    """A hub reachable again (say a Unix socket by name) is rejoined with back-off."""
    hubs = [HubEventBus(), HubEventBus()]
    attempts = 0

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        nonlocal attempts
        ours, theirs = socket.socketpair()
        await hubs[min(attempts, 1)].add_socket(ours)
        attempts += 1
        return await asyncio.open_unix_connection(sock=theirs)

    bus = RemoteEventBus(connect)
    await bus.start()
    await hubs[0].close()
    heard: list[Event] = []
    hubs[1].subscribe(Topic.AUTH, heard.append)
    await until(lambda: bus.wants(Topic.AUTH))
    bus.emit(Topic.AUTH, ip="10.0.0.1", user=None, action="failure")
    await until(lambda: bool(heard))
    await bus.close()
    await hubs[1].close()


async def test_a_folder_change_published_everywhere_reaches_a_listener_not_yet_heard_of(
    hub: HubEventBus,
) -> None:
    """NOTIFY SET answers OK once its worker has sent "I listen"; the client's
    CREATE through the other worker may come before that news reaches it.
    The hub knows first hand, so an event sent to it anyway arrives."""
    one, two = await joined(hub), await joined(hub)
    heard: list[Event] = []
    two.subscribe(Topic.MAILBOX, heard.append)
    await until(lambda: any(peer.wants(Topic.MAILBOX) for peer in hub._peers.values()))
    await until(lambda: one.wants(Topic.MAILBOX))
    one._remote = frozenset()  # the moment before the hub's news reaches worker one
    change = {"user": "group1_1", "folder": "Lists", "change": "folders", "exists": True}
    one.publish(Event(Topic.MAILBOX, dict(change)))  # a plain publish is not sent
    one.publish_everywhere(Event(Topic.MAILBOX, dict(change)))
    await until(lambda: bool(heard))
    await asyncio.sleep(0.2)
    assert [event.data for event in heard] == [change]
    await one.close()
    await two.close()


async def test_events_published_together_travel_as_one_message_and_arrive_each_in_order(
    hub: HubEventBus,
) -> None:
    """``publish_many``: one line on the link (the hub forwards it whole), and every
    process's subscribers see each event as if published alone, in order."""
    one, two, three = await joined(hub), await joined(hub), await joined(hub)
    seen_two: list[Event] = []
    seen_three: list[Event] = []
    seen_hub: list[Event] = []
    for topic in (Topic.SESSION_OPENED, Topic.SESSION_LINES, Topic.SESSION_CLOSED):
        two.subscribe(topic, seen_two.append)
    three.subscribe(Topic.SESSION_CLOSED, seen_three.append)  # wants one of them
    hub.subscribe(Topic.SESSION_CLOSED, seen_hub.append)
    await until(lambda: {Topic.SESSION_OPENED, Topic.SESSION_CLOSED} <= one._remote)
    assert one._link is not None
    sent_lines: list[bytes] = []
    send_line = one._link.send_line

    def counting(line: bytes) -> bool:
        sent_lines.append(line)
        return send_line(line)

    one._link.send_line = counting  # type: ignore[method-assign]
    events = [
        Event(Topic.SESSION_OPENED, {"session": "s1"}),
        Event(Topic.SESSION_LINES, {"session": "s1", "lines": "S220 hi\nCQUIT"}),
        Event(Topic.SESSION_CLOSED, {"session": "s1", "duration": 0.01}),
    ]
    one.publish_many(events)
    assert len(sent_lines) == 1
    await until(lambda: len(seen_two) == 3 and bool(seen_three) and bool(seen_hub))
    assert [(e.topic, e.data, e.time) for e in seen_two] == [
        (e.topic, e.data, e.time) for e in events
    ]
    assert [e.topic for e in seen_three] == [Topic.SESSION_CLOSED]
    assert [e.topic for e in seen_hub] == [Topic.SESSION_CLOSED]
    await asyncio.sleep(0.2)
    assert len(seen_two) == 3 and len(seen_three) == 1 and len(seen_hub) == 1
    for bus in (one, two, three):
        await bus.close()


async def test_an_event_shown_here_first_reaches_the_others_once_with_the_batch(
    hub: HubEventBus,
) -> None:
    """``show_here`` then ``publish_many(shown_here=1)``: this process's subscribers
    see the event once (at once), the other processes once (with the batch)."""
    one, two = await joined(hub), await joined(hub)
    here: list[Event] = []
    there: list[Event] = []
    one.subscribe(Topic.SESSION_OPENED, here.append)
    two.subscribe(Topic.SESSION_OPENED, there.append)
    two.subscribe(Topic.SESSION_CLOSED, there.append)
    await until(lambda: {Topic.SESSION_OPENED, Topic.SESSION_CLOSED} <= one._remote)
    opened = Event(Topic.SESSION_OPENED, {"session": "s2"})
    one.show_here(opened)
    assert here == [opened]
    one.publish_many([opened, Event(Topic.SESSION_CLOSED, {"session": "s2"})], shown_here=1)
    await until(lambda: len(there) == 2)
    assert [e.topic for e in there] == [Topic.SESSION_OPENED, Topic.SESSION_CLOSED]
    await asyncio.sleep(0.2)
    assert here == [opened] and len(there) == 2
    await one.close()
    await two.close()


async def test_the_hub_publishing_several_reaches_the_workers_and_skips_what_it_showed(
    hub: HubEventBus,
) -> None:
    """``HubEventBus.publish_many``: the workers get every event; the supervisor's
    own subscribers do not see again one it showed already."""
    one = await joined(hub)
    here: list[Event] = []
    there: list[Event] = []
    hub.subscribe(Topic.SESSION_OPENED, here.append)
    one.subscribe(Topic.SESSION_OPENED, there.append)
    one.subscribe(Topic.SESSION_CLOSED, there.append)
    await until(lambda: hub.wants(Topic.SESSION_CLOSED))
    opened = Event(Topic.SESSION_OPENED, {"session": "s3"})
    hub.show_here(opened)
    hub.publish_many([opened, Event(Topic.SESSION_CLOSED, {"session": "s3"})], shown_here=1)
    await until(lambda: len(there) == 2)
    assert [e.topic for e in there] == [Topic.SESSION_OPENED, Topic.SESSION_CLOSED]
    assert here == [opened]
    await one.close()


async def test_a_quiet_subscriber_hears_its_own_process_and_asks_nobody_to_send(
    hub: HubEventBus,
) -> None:
    """``announce=False``: a worker's archive keeps its own sessions without the other
    workers sending it theirs; an announcing subscriber there brings them to both."""
    one, two = await joined(hub), await joined(hub)
    quiet: list[Event] = []
    two.subscribe(Topic.SESSION_CLOSED, quiet.append, announce=False)
    assert two.wants(Topic.SESSION_CLOSED)  # its own sessions are still recorded
    assert not two.wants_live(Topic.SESSION_CLOSED)  # but nobody reads them as they come
    # A marker: what two announces travels in order, so once one has heard of this...
    markers: list[Event] = []
    two.subscribe(Topic.MAILBOX, markers.append)
    await until(lambda: one.wants(Topic.MAILBOX))
    assert not one.wants(Topic.SESSION_CLOSED)  # ...it would have heard of that too
    one.publish(Event(Topic.SESSION_CLOSED, {"session": "before"}))
    watching = two.subscribe(Topic.SESSION_CLOSED, lambda event: None)
    assert two.wants_live(Topic.SESSION_CLOSED)
    await until(lambda: one.wants(Topic.SESSION_CLOSED) and one.wants_live(Topic.SESSION_CLOSED))
    one.publish(Event(Topic.SESSION_CLOSED, {"session": "while watched"}))
    await until(lambda: bool(quiet))
    watching.close()
    await until(lambda: not one.wants(Topic.SESSION_CLOSED))
    one.publish(Event(Topic.SESSION_CLOSED, {"session": "after"}))
    two.publish(Event(Topic.SESSION_CLOSED, {"session": "its own"}))
    one.publish(Event(Topic.MAILBOX, {"user": "marker"}))  # after "after", on one link
    await until(lambda: bool(markers))
    assert [event.data["session"] for event in quiet] == ["while watched", "its own"]
    await one.close()
    await two.close()


async def test_the_hub_tells_each_worker_how_many_others_it_links(hub: HubEventBus) -> None:
    one = await joined(hub)
    assert one.peers == 0
    two = await joined(hub)
    await until(lambda: one.peers == 1 and two.peers == 1)
    await two.close()
    await until(lambda: one.peers == 0)
    await one.close()


async def test_a_broadcast_reaches_every_process_whatever_it_announced(
    hub: HubEventBus,
) -> None:
    """A web login ended by one worker must leave every worker's (quiet) archive."""
    one, two, three = await joined(hub), await joined(hub), await joined(hub)
    heard: dict[str, list[str]] = {"two": [], "three": [], "hub": []}
    two.subscribe(Topic.SESSION_CLOSED, lambda e: heard["two"].append(e.topic), announce=False)
    three.subscribe(Topic.SESSION_CLOSED, lambda e: heard["three"].append(e.topic), announce=False)
    hub.subscribe(Topic.SESSION_CLOSED, lambda e: heard["hub"].append(e.topic), announce=False)
    one.broadcast(Event(Topic.SESSION_CLOSED, {"session": "web-1"}))
    await until(lambda: all(heard.values()))
    hub.broadcast(Event(Topic.SESSION_CLOSED, {"session": "web-2"}))
    await until(lambda: len(heard["two"]) == 2 and len(heard["three"]) == 2)
    assert len(heard["hub"]) == 2
    for bus in (one, two, three):
        await bus.close()
