"""One event link over a real socketpair: how its messages reach the wire."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from mailserver.events import link as link_module
from mailserver.events.link import EventLink

DEADLINE = 10.0


async def linked() -> tuple[EventLink, socket.socket, list[bytes]]:
    """A started link on one end of a socketpair; the list records its writes."""
    ours, theirs = socket.socketpair()
    theirs.setblocking(False)
    reader, writer = await asyncio.open_unix_connection(sock=ours)
    writes: list[bytes] = []
    real_write = writer.write

    def write(data: Any) -> None:
        writes.append(bytes(data))
        real_write(data)

    writer.write = write  # type: ignore[method-assign]
    link = EventLink(reader, writer, lambda message: None, lambda link: None, "test")
    link.start()
    return link, theirs, writes


async def received(peer: socket.socket, lines: int) -> bytes:
    """What the peer reads until ``lines`` lines have come (bounded in time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE
    data = b""
    while data.count(b"\n") < lines:
        assert loop.time() < deadline, f"only {data!r} arrived"
        try:
            data += peer.recv(65536)
        except BlockingIOError:
            await asyncio.sleep(0.001)
    return data


async def test_messages_sent_in_separate_loop_turns_share_one_write(monkeypatch: Any) -> None:
    """Under load a session's events (opened, lines, closed) come a few loop turns
    apart; each used to be its own write, waking the supervisor and, through it,
    the other worker once per event. They wait up to LINGER for each other."""
    # Longer than its milliseconds, so that a loaded machine pausing this test
    # between two sends cannot split the write.
    monkeypatch.setattr(link_module, "LINGER", 1.0)
    link, peer, writes = await linked()
    for number in range(3):
        link.send({"t": "event", "n": number})
        for _ in range(3):
            await asyncio.sleep(0)  # the write task gets its turns in between
    data = await received(peer, 3)
    assert data == b'{"t":"event","n":0}\n{"t":"event","n":1}\n{"t":"event","n":2}\n'
    assert writes == [data]
    await link.close()
    peer.close()


async def test_a_lone_message_still_goes_out_promptly_and_a_big_queue_does_not_wait(
    monkeypatch: Any,
) -> None:
    link, peer, writes = await linked()
    loop = asyncio.get_running_loop()
    started = loop.time()
    link.send({"t": "event", "n": 1})
    await received(peer, 1)
    assert loop.time() - started < 5.0  # LINGER is milliseconds; generous for a loaded machine
    # A queue past LINGER_OCTETS is written without lingering (LINGER made huge to see it).
    monkeypatch.setattr(link_module, "LINGER", 3600.0)
    monkeypatch.setattr(link_module, "LINGER_OCTETS", 100)
    link.send({"t": "event", "text": "x" * 200})
    await received(peer, 1)
    assert len(writes) == 2
    await link.close()
    peer.close()


async def test_an_urgent_message_goes_out_now_after_what_was_queued_before_it(
    monkeypatch: Any,
) -> None:
    """ "I listen now" must not linger: the other worker publishes a topic only
    once it has heard of a listener, so a late interest message loses the
    change that follows NOTIFY SET's OK (tests/integration/workers/test_notify_workers.py)."""
    monkeypatch.setattr(link_module, "LINGER", 3600.0)
    link, peer, writes = await linked()
    link.send({"t": "event", "n": 1})
    link.send({"t": "interest", "topics": ["mailbox"]}, urgent=True)
    data = await received(peer, 2)
    assert data == b'{"t":"event","n":1}\n{"t":"interest","topics":["mailbox"]}\n'
    assert writes == [data]
    await link.close()
    peer.close()
