"""A worker's side of the event channel: local subscribers plus one link to a hub.

The transport is only a connect function returning a stream pair, so the
same class serves the supervisor's socketpair today and a TCP or Unix
socket to a hub on another machine later. An external engine (Redis
pub/sub, PostgreSQL LISTEN/NOTIFY) would instead implement ``EventBus``
itself, with the same three duties: deliver locally at once, send the rest
without blocking (bounded, drop and count), and answer ``wants()`` for the
processes on the other side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mailserver.events.bus import LocalEventBus
from mailserver.events.link import EventLink, interest_message
from mailserver.events.model import Event

log = logging.getLogger(__name__)

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]

#: Seconds ``start()`` waits for the hub's first word on what others want.
HELLO_TIMEOUT = 10.0
#: Reconnect back-off bounds in seconds.
RECONNECT_MIN, RECONNECT_MAX = 0.1, 5.0


class RemoteEventBus(LocalEventBus):
    """Events published here reach local subscribers at once and, when any other
    process wants their topic, the hub soon after.

    ``on_lost`` (a supervised worker's "shut down, you will be replaced") is
    called when the link breaks; without it the bus reconnects with back-off,
    and while it is down remote events are dropped and counted.
    """

    def __init__(self, connect: Connect, on_lost: Callable[[], None] | None = None) -> None:
        super().__init__()
        self._connect = connect
        self._on_lost = on_lost
        self._link: EventLink | None = None
        #: What every other process wants, as the hub last said.
        self._remote: frozenset[str] = frozenset()
        #: The other workers behind the hub, as it last said (None: it does not say).
        self._peers: int | None = 0
        self._heard = asyncio.Event()
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None
        #: Events not sent because the link was down.
        self.dropped_offline = 0

    async def start(self) -> None:
        """Connect and wait until the hub has said what the other processes want,
        so that ``wants()`` answers for all of them from the first event on.
        Once connected, calling it again does nothing."""
        if self._link is not None:
            return
        await self._open()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._heard.wait(), HELLO_TIMEOUT)

    async def _open(self) -> None:
        reader, writer = await self._connect()
        self._heard.clear()
        link = EventLink(reader, writer, self._on_message, self._on_link_closed, "hub")
        self._link = link
        link.start()
        link.send(interest_message(self.local_topics()), urgent=True)

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("t")
        if kind == "interest":
            topics = message.get("topics")
            if isinstance(topics, list):
                self._remote = frozenset(str(topic) for topic in topics)
                peers = message.get("peers")
                self._peers = peers if isinstance(peers, int) and peers >= 0 else None
                self._heard.set()
        elif kind in ("event", "broadcast"):
            raw = message.get("e")
            if isinstance(raw, dict):
                self.deliver_locally(Event.from_json(raw))
        elif kind == "events":  # publish_many's: each delivered as it came, in order
            raws = message.get("e")
            if isinstance(raws, list):
                for raw in raws:
                    if isinstance(raw, dict):
                        self.deliver_locally(Event.from_json(raw))

    def _on_link_closed(self, link: EventLink) -> None:
        if link is not self._link:
            return
        self._link = None
        self._remote = frozenset()
        self._peers = 0
        if self._closing:
            return
        log.warning("event channel to the supervisor lost")
        if self._on_lost is not None:
            self._on_lost()
        else:
            self._reconnecting = asyncio.create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = RECONNECT_MIN
        while not self._closing and self._link is None:
            await asyncio.sleep(delay)
            try:
                await self._open()
            except OSError as exc:
                log.debug("event channel reconnect failed: %s", exc)
                delay = min(delay * 2, RECONNECT_MAX)
            else:
                log.info("event channel reconnected")

    def _topics_changed(self) -> None:
        if self._link is not None:
            self._link.send(interest_message(self.local_topics()), urgent=True)

    # ------------------------------------------------------- EventBus

    def publish(self, event: Event) -> None:
        self.deliver_locally(event)
        if event.topic in self._remote or "*" in self._remote:
            link = self._link
            if link is None:
                self.dropped_offline += 1
            else:
                link.send({"t": "event", "e": event.to_json()})

    def publish_many(self, events: list[Event], *, shown_here: int = 0) -> None:
        """Each event delivered here (but the first ``shown_here``), and those
        another process wants sent to the hub in one ``events`` message (one as
        a plain ``event``)."""
        remote = self._remote
        everything = "*" in remote
        wanted = []
        for index, event in enumerate(events):
            if index >= shown_here:
                self.deliver_locally(event)
            if everything or event.topic in remote:
                wanted.append(event.to_json())
        if not wanted:
            return
        link = self._link
        if link is None:
            self.dropped_offline += len(wanted)
        elif len(wanted) == 1:
            link.send({"t": "event", "e": wanted[0]})
        else:
            link.send({"t": "events", "e": wanted})

    def publish_everywhere(self, event: Event) -> None:
        self.deliver_locally(event)
        link = self._link
        if link is None:
            self.dropped_offline += 1
        else:
            link.send({"t": "event", "e": event.to_json()})

    def broadcast(self, event: Event) -> None:
        self.deliver_locally(event)
        link = self._link
        if link is None:
            self.dropped_offline += 1
        elif self._peers is None:  # a hub of an earlier release: it routes by interest
            link.send({"t": "event", "e": event.to_json()})
        else:
            link.send({"t": "broadcast", "e": event.to_json()})

    def wants(self, topic: str) -> bool:
        return super().wants(topic) or topic in self._remote or "*" in self._remote

    def wants_live(self, topic: str) -> bool:
        announced, remote = self._announced, self._remote
        return topic in announced or topic in remote or "*" in announced or "*" in remote

    @property
    def peers(self) -> int | None:
        return self._peers

    def dropped(self) -> int:
        """Events that did not reach the hub (queue full or link down)."""
        return self.dropped_offline + (self._link.dropped if self._link else 0)

    async def close(self) -> None:
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        if self._link is not None:
            await self._link.close()
            self._link = None
