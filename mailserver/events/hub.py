"""The event channel's hub: lives in the supervisor, one link per worker.

The hub is itself an :class:`EventBus`, so the supervisor's own consumers
(the control socket and console, which see every worker through it) simply
subscribe. An event from one worker goes to the hub's subscribers and to
each *other* worker whose processes want its topic; nothing is echoed back.

Interest is propagated: each worker says which topics its subscribers
want, and the hub tells each worker the union of what everybody else
(itself included) wants. That is what lets ``wants()`` in a worker answer
for every process, so a transcript line nobody reads costs nothing at all.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import Any

from mailserver.events.bus import LocalEventBus
from mailserver.events.link import MAX_LINE, EventLink, encode, interest_message
from mailserver.events.model import Event

log = logging.getLogger(__name__)

_ids = itertools.count(1)


class _Peer:
    def __init__(self, link: EventLink) -> None:
        self.link = link
        #: What this peer's own subscribers want.
        self.interest: frozenset[str] = frozenset()
        #: What we last told this peer everybody else wants, and how many others there are.
        self.told: tuple[frozenset[str], int] | None = None

    def wants(self, topic: str) -> bool:
        return topic in self.interest or "*" in self.interest


class HubEventBus(LocalEventBus):
    """Routes events between worker links and the supervisor's own subscribers."""

    def __init__(self) -> None:
        super().__init__()
        self._peers: dict[int, _Peer] = {}
        #: Events dropped towards workers that have gone since.
        self._dropped_gone = 0

    # ----------------------------------------------------------- peers

    def add_peer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> EventLink:
        """Serve one worker's link; it is dropped from routing when it closes."""
        peer_id = next(_ids)

        def on_message(message: dict[str, Any]) -> None:
            self._on_message(peer_id, message)

        def on_close(link: EventLink) -> None:
            self._dropped_gone += link.dropped
            if self._peers.pop(peer_id, None) is not None:
                self._propagate()

        link = EventLink(reader, writer, on_message, on_close, f"worker-link-{peer_id}")
        peer = _Peer(link)
        self._peers[peer_id] = peer
        link.start()
        # The first message a worker waits for; the others learn they have one more peer.
        self._propagate()
        return link

    async def add_socket(self, sock: Any) -> EventLink:
        """:meth:`add_peer` for a connected stream socket (one end of a socketpair)."""
        reader, writer = await asyncio.open_unix_connection(sock=sock, limit=MAX_LINE)
        return self.add_peer(reader, writer)

    def _on_message(self, peer_id: int, message: dict[str, Any]) -> None:
        peer = self._peers.get(peer_id)
        if peer is None:
            return
        kind = message.get("t")
        if kind == "interest":
            topics = message.get("topics")
            if isinstance(topics, list):
                peer.interest = frozenset(str(topic) for topic in topics)
                self._propagate()
        elif kind == "event":
            raw = message.get("e")
            if isinstance(raw, dict):
                topic = str(raw.get("topic"))
                if LocalEventBus.wants(self, topic):
                    self.deliver_locally(Event.from_json(raw))
                # Passed on as it came: no second encoding of the same event.
                self._forward(_received(peer), peer_id, lambda other: other.wants(topic))
        elif kind == "broadcast":  # to every process, whatever it announced
            raw = message.get("e")
            if isinstance(raw, dict):
                self.deliver_locally(Event.from_json(raw))
                self._forward(_received(peer), peer_id, _everyone)
        elif kind == "events":  # several of one worker's events (publish_many)
            raws = [raw for raw in message.get("e") or () if isinstance(raw, dict)]
            topics = {str(raw.get("topic")) for raw in raws}
            for raw in raws:
                if LocalEventBus.wants(self, str(raw.get("topic"))):
                    self.deliver_locally(Event.from_json(raw))
            # Passed on whole to every worker that wants any of them: its bus
            # delivers each to its subscribers (none for a topic it does not want).
            self._forward(
                _received(peer),
                peer_id,
                lambda other: any(other.wants(topic) for topic in topics),
            )

    def _forward(self, line: bytes, skip: int | None, wanted: Callable[[_Peer], bool]) -> None:
        """``line`` to every worker but ``skip`` that is ``wanted``."""
        for peer_id, peer in self._peers.items():
            if peer_id != skip and wanted(peer):
                peer.link.send_line(line)

    def _view_for(self, peer: _Peer) -> frozenset[str]:
        topics = set(self.local_topics())
        for other in self._peers.values():
            if other is not peer:
                topics |= other.interest
        return frozenset(topics)

    def _tell(self, peer: _Peer) -> None:
        told = (self._view_for(peer), len(self._peers) - 1)
        if told != peer.told:
            peer.told = told
            peer.link.send(interest_message(*told), urgent=True)

    def _propagate(self) -> None:
        for peer in list(self._peers.values()):
            self._tell(peer)

    def _topics_changed(self) -> None:
        self._propagate()

    def dropped(self) -> int:
        """Events dropped towards slow or gone workers, for the operator."""
        return self._dropped_gone + sum(peer.link.dropped for peer in self._peers.values())

    # ------------------------------------------------------- EventBus

    def publish(self, event: Event) -> None:
        self.deliver_locally(event)
        self._to_workers(event)

    def publish_many(self, events: list[Event], *, shown_here: int = 0) -> None:
        """Each one as :meth:`publish` would, but the first ``shown_here`` to the
        workers only (this process has seen them)."""
        for index, event in enumerate(events):
            if index >= shown_here:
                self.deliver_locally(event)
            self._to_workers(event)

    def _to_workers(self, event: Event) -> None:
        """Send one of this process's events to every worker that wants it."""
        topic = event.topic
        if any(peer.wants(topic) for peer in self._peers.values()):
            line = encode({"t": "event", "e": event.to_json()})
            self._forward(line, None, lambda peer: peer.wants(topic))

    def broadcast(self, event: Event) -> None:
        self.deliver_locally(event)
        self._forward(encode({"t": "broadcast", "e": event.to_json()}), None, _everyone)

    def wants(self, topic: str) -> bool:
        return super().wants(topic) or any(peer.wants(topic) for peer in self._peers.values())

    def wants_live(self, topic: str) -> bool:
        return super().wants_live(topic) or any(peer.wants(topic) for peer in self._peers.values())

    @property
    def peers(self) -> int | None:
        return len(self._peers)

    async def close(self) -> None:
        peers = list(self._peers.values())
        self._peers.clear()
        for peer in peers:
            await peer.link.close()


def _received(peer: _Peer) -> bytes:
    """The line of the message ``peer``'s link is handling, as received, to pass on."""
    line = peer.link.line
    return line if line.endswith(b"\n") else line + b"\n"


def _everyone(peer: _Peer) -> bool:
    return True
