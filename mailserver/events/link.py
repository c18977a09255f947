"""One JSON-lines stream between two processes of the event channel.

Each line is one JSON object with a ``"t"`` key: ``"interest"`` (the topics
the sender's side wants, ``{"t": "interest", "topics": [...]}``),
``"event"`` (``{"t": "event", "e": Event.to_json()}``) or ``"events"``
(``{"t": "events", "e": [Event.to_json(), ...]}``, several events of one
``EventBus.publish_many``, each delivered as if sent alone). Sending never
blocks: messages wait in a bounded queue drained by a task, and when the
peer does not keep up, new messages are dropped and counted instead of
slowing the producer down (a stalled worker must not stall the others).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: Messages waiting for one peer before new ones are dropped.
MAX_QUEUE = 10_000
#: Longest line accepted from a peer; events are small facts, never bodies.
MAX_LINE = 1 << 20
#: Seconds between two "dropping events" warnings for one link.
DROP_LOG_INTERVAL = 60.0
#: Seconds a message may wait for others to share its write (Nagle's idea, or
#: ``TCP_CORK``): under load every SMTP session publishes three events
#: (opened, lines, closed), and one write each woke the supervisor and through
#: it the other worker, a context switch and a read per event per process.
#: Small next to what readers wait anyway (transcripts are batched for 50 ms).
LINGER = 0.004
#: A queue this large is written at once, without lingering.
LINGER_OCTETS = 64 * 1024

MessageHandler = Callable[[dict[str, Any]], None]


class EventLink:
    """A started link reads messages into ``on_message`` until the peer goes away,
    then calls ``on_close`` once."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_message: MessageHandler,
        on_close: Callable[[EventLink], None],
        name: str,
    ) -> None:
        self.name = name
        self._reader = reader
        self._writer = writer
        self._on_message = on_message
        self._on_close = on_close
        self._queue: deque[bytes] = deque()
        #: Octets in ``_queue``.
        self._queued = 0
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.closed = False
        #: Messages dropped because the queue was full or the link closed.
        self.dropped = 0
        self._last_drop_log = -DROP_LOG_INTERVAL
        #: The line of the message ``on_message`` is handling, as received: a hub
        #: forwards it to the other workers as it is instead of encoding it again.
        self.line = b""

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._read_loop(), name=f"events-read-{self.name}"),
            asyncio.create_task(self._write_loop(), name=f"events-write-{self.name}"),
        ]

    def send(self, message: dict[str, Any], *, urgent: bool = False) -> bool:
        """Queue one message; False (and counted) if it was dropped.

        ``urgent`` skips the linger: the message (and whatever is queued before
        it, so the order holds) goes to the transport now. Interest messages are
        urgent: a worker publishes a topic only once it hears that somebody
        listens, so a lingering "I listen now" would let the other worker
        drop the very change (a CREATE just after NOTIFY SET's OK) the
        listener is waiting for."""
        sent = self.send_line(encode(message))
        if sent and urgent:
            self._flush_now()
        return sent

    def send_line(self, line: bytes) -> bool:
        """Queue one message already encoded (:func:`encode`, or a line received)."""
        if self.closed or len(self._queue) >= MAX_QUEUE:
            self._count_drop()
            return False
        self._queue.append(line)
        self._queued += len(line)
        if not self._wake.is_set():
            self._wake.set()
        return True

    def _flush_now(self) -> None:
        """Hand everything queued to the transport at once (no await between the
        join and the write, so batches stay in order); the write loop drains."""
        batch = b"".join(self._queue)
        self._queue.clear()
        self._queued = 0
        try:
            self._writer.write(batch)
        except Exception as exc:  # a transport closed under us
            log.debug("event link %s: write failed: %r", self.name, exc)
            self._lost()

    def _count_drop(self) -> None:
        self.dropped += 1
        now = time.monotonic()
        if now - self._last_drop_log >= DROP_LOG_INTERVAL:
            self._last_drop_log = now
            log.warning(
                "event link %s: peer is not keeping up or gone, %d events dropped so far",
                self.name,
                self.dropped,
            )

    async def _write_loop(self) -> None:
        try:
            while True:
                await self._wake.wait()
                if self._queued < LINGER_OCTETS:
                    await asyncio.sleep(LINGER)  # let more messages join this write
                self._wake.clear()
                while self._queue:
                    # One write for everything queued: a burst costs one syscall.
                    batch = b"".join(self._queue)
                    self._queue.clear()
                    self._queued = 0
                    self._writer.write(batch)
                    await self._writer.drain()
        except Exception as exc:  # ConnectionError, or a transport closed under us
            log.debug("event link %s: write failed: %r", self.name, exc)
            self._lost()

    async def _read_loop(self) -> None:
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                try:
                    message = json.loads(line)
                except ValueError:
                    log.warning("event link %s: ignored a line that is not JSON", self.name)
                    continue
                if isinstance(message, dict):
                    self.line = line
                    try:
                        self._on_message(message)
                    except Exception:
                        log.exception("event link %s: handling a message failed", self.name)
        except (ConnectionError, OSError, ValueError):
            # ValueError: a line past the reader's limit; the stream is unusable.
            pass
        self._lost()

    def _lost(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._queue.clear()
        self._queued = 0
        with contextlib.suppress(Exception):
            self._writer.close()
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        self._on_close(self)

    async def close(self) -> None:
        """Send what is queued (briefly), then close without calling ``on_close``."""
        if self.closed:
            return
        with contextlib.suppress(Exception):
            if self._queue:
                self._writer.write(b"".join(self._queue))
                await asyncio.wait_for(self._writer.drain(), 1.0)
        self.closed = True
        self._queue.clear()
        self._queued = 0
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            self._writer.close()


def encode(message: dict[str, Any]) -> bytes:
    """One message as the line that carries it."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def interest_message(topics: frozenset[str], peers: int | None = None) -> dict[str, Any]:
    """What the sender's side wants; from the hub, also how many other workers it links
    (those that answer a question asked of all, such as ``session.sync``)."""
    message: dict[str, Any] = {"t": "interest", "topics": sorted(topics)}
    if peers is not None:
        message["peers"] = peers
    return message
