"""The event bus interface and its in-process implementation.

Publishing never blocks and never raises: a producer sits on a hot path
(every SMTP line, every flag change) and must not slow down or fail because
a consumer is slow or broken. Handlers run on the publisher's event loop and
must be quick; one that needs to do I/O schedules a task or feeds a bounded
queue of its own (the console keeps a bounded ring of lines, say).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable

from mailserver.events.model import Event

log = logging.getLogger(__name__)

EventHandler = Callable[[Event], None]


class Subscription:
    """A handle to stop receiving; ``close()`` is safe to call twice."""

    def __init__(self, bus: EventBus, topic: str, handler: EventHandler) -> None:
        self.bus = bus
        self.topic = topic
        self.handler = handler
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.bus._unsubscribe(self)


class EventBus(ABC):
    """Publish/subscribe by topic. Topic ``"*"`` subscribes to everything.

    ``wants(topic)`` lets a producer skip building an event nobody reads
    (transcript lines when no console is open and no transcript files are
    kept); a cross-process bus answers for every process it connects.
    """

    @abstractmethod
    def publish(self, event: Event) -> None:
        """Deliver to local subscribers now and to other processes soon; never raises."""

    @abstractmethod
    def subscribe(self, topic: str, handler: EventHandler) -> Subscription: ...

    @abstractmethod
    def _unsubscribe(self, subscription: Subscription) -> None: ...

    @abstractmethod
    def wants(self, topic: str) -> bool:
        """True if some subscriber, here or in another process, listens to ``topic``."""

    def emit(self, topic: str, **data: object) -> None:
        """Shorthand: publish ``Event(topic, data)`` if anybody wants it."""
        if self.wants(topic):
            self.publish(Event(topic, dict(data)))

    def publish_many(self, events: list[Event], *, shown_here: int = 0) -> None:
        """Publish several events in order, as one message where a transport can.

        Every subscriber sees each event exactly as if it had been published
        on its own; only the channel between processes carries them in one
        message (a short SMTP session's opened, lines and closed: one
        encoding, one hop through the supervisor, one decoding instead of
        three of each). The first ``shown_here`` of them were delivered to
        this process's subscribers already (:meth:`show_here`), so that they
        saw it at once; only the other processes get them now. Here: one
        :meth:`publish` each."""
        for event in events[shown_here:]:
            self.publish(event)

    def show_here(self, event: Event) -> None:
        """Deliver to this process's subscribers now; the other processes get it
        from a later :meth:`publish_many` (``shown_here``). Here: :meth:`publish`."""
        self.publish(event)

    def publish_everywhere(self, event: Event) -> None:
        """Publish even where this process has not yet heard of a listener.

        ``wants()`` is this process's view of the others, one event hop
        behind: a listener subscribed a moment ago (NOTIFY SET answered OK,
        its client at once CREATEs a folder through another worker) is not
        in it yet, and :meth:`publish` would not send. For rare events whose
        loss nothing else makes good (folder names and subscriptions: no
        inotify, no re-read brings them back) the event goes to the hub
        anyway, which knows its peers' interest first hand. In one process
        this is :meth:`publish`."""
        self.publish(event)

    async def start(self) -> None:
        """Connect to other processes (no-op in process)."""
        return None

    async def close(self) -> None:
        """Disconnect; later publishes are dropped."""
        return None


class LocalEventBus(EventBus):
    """Subscribers in this process only: the default, and the base of the others."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Subscription]] = {}

    def publish(self, event: Event) -> None:
        self.deliver_locally(event)

    def show_here(self, event: Event) -> None:
        self.deliver_locally(event)

    def deliver_locally(self, event: Event) -> None:
        """Call each handler of the event's topic (and of ``"*"``); log, never raise."""
        for key in (event.topic, "*"):
            for subscription in tuple(self._handlers.get(key, ())):
                try:
                    subscription.handler(event)
                except Exception:
                    log.exception("event handler for %s failed", event.topic)

    def subscribe(self, topic: str, handler: EventHandler) -> Subscription:
        subscription = Subscription(self, topic, handler)
        first = topic not in self._handlers
        self._handlers.setdefault(topic, []).append(subscription)
        if first:
            self._topics_changed()
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        handlers = self._handlers.get(subscription.topic, [])
        if subscription in handlers:
            handlers.remove(subscription)
        if not handlers and self._handlers.pop(subscription.topic, None) is not None:
            self._topics_changed()

    def local_topics(self) -> frozenset[str]:
        """The topics some subscriber in this process listens to."""
        return frozenset(self._handlers)

    def _topics_changed(self) -> None:
        """A topic gained its first or lost its last local subscriber (transports
        tell the other processes, so their producers know whether to bother)."""

    def wants(self, topic: str) -> bool:
        return bool(self._handlers.get(topic) or self._handlers.get("*"))
