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

    def __init__(
        self, bus: EventBus, topic: str, handler: EventHandler, *, announce: bool = True
    ) -> None:
        self.bus = bus
        self.topic = topic
        self.handler = handler
        #: Whether the other processes are told that this process wants ``topic``
        #: (see :meth:`EventBus.subscribe`).
        self.announce = announce
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
    def subscribe(
        self, topic: str, handler: EventHandler, *, announce: bool = True
    ) -> Subscription:
        """Call ``handler`` with every event of ``topic`` this process hears.

        ``announce=False`` hears this process's own events and whatever the
        other processes send here anyway, but does not ask them to send: a
        worker's transcript archive keeps its own sessions at no cost to the
        others, and takes theirs only while something here announces (the
        console watching). Such a handler tells the two apart by
        ``event.origin``."""

    @abstractmethod
    def _unsubscribe(self, subscription: Subscription) -> None: ...

    @abstractmethod
    def wants(self, topic: str) -> bool:
        """True if some subscriber, here or in another process, listens to ``topic``."""

    def local_topics(self) -> frozenset[str]:
        """The topics some subscriber in this process announces (none here)."""
        return frozenset()

    def wants_live(self, topic: str) -> bool:
        """True if an announcing subscriber, here or in another process, listens to
        ``topic``: more than this process's quiet ones (its archive), which read
        what they keep only when asked (a producer may defer work for them)."""
        topics = self.local_topics()
        return topic in topics or "*" in topics

    def broadcast(self, event: Event) -> None:
        """Deliver here and in every other process, announced or not.

        For rare facts that quiet subscribers (``announce=False``) everywhere
        need: a web login, which any worker may end although another began it,
        must leave every worker's archive. In one process this is
        :meth:`publish`."""
        self.publish(event)

    @property
    def peers(self) -> int | None:
        """The other processes behind this bus that answer a question asked of all
        (the other workers); 0 in one process, None if the hub did not say (a
        supervisor of an earlier release, after a SIGHUP brought new code)."""
        return 0

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
        #: The topics of the subscriptions that announce (``local_topics``).
        self._announced: frozenset[str] = frozenset()

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

    def subscribe(
        self, topic: str, handler: EventHandler, *, announce: bool = True
    ) -> Subscription:
        subscription = Subscription(self, topic, handler, announce=announce)
        self._handlers.setdefault(topic, []).append(subscription)
        if announce and topic not in self._announced:
            self._announced = self._announced | {topic}
            self._topics_changed()
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        topic = subscription.topic
        handlers = self._handlers.get(topic, [])
        if subscription in handlers:
            handlers.remove(subscription)
        if not handlers:
            self._handlers.pop(topic, None)
        if topic in self._announced and not any(other.announce for other in handlers):
            # The topic's last announcing subscriber went: the others stop sending it.
            self._announced = self._announced - {topic}
            self._topics_changed()

    def local_topics(self) -> frozenset[str]:
        """The topics some subscriber in this process listens to and announces."""
        return self._announced

    def wants_live(self, topic: str) -> bool:
        announced = self._announced  # (asked per transcript write: no method call)
        return topic in announced or "*" in announced

    def _topics_changed(self) -> None:
        """A topic gained its first or lost its last local subscriber (transports
        tell the other processes, so their producers know whether to bother)."""

    def wants(self, topic: str) -> bool:
        return bool(self._handlers.get(topic) or self._handlers.get("*"))
