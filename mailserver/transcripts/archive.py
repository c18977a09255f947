"""Recent sessions in memory, live and finished, for the console and the control socket.

Fed only from the event channel. Bounded three ways: lines per session
(:data:`MAX_LINES_PER_SESSION`, the rest are counted), the number of
finished sessions kept, and the octets of their lines; the oldest finished
sessions go first. Live sessions are bounded by the connection limits.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mailserver.events import Event, EventBus, Subscription, Topic

#: Lines kept per session; a longer session keeps its first lines and counts the rest.
MAX_LINES_PER_SESSION = 5000
#: What one kept line costs beyond its text (the tuple, the time, the direction).
LINE_OVERHEAD = 64


@dataclass
class SessionRecord:
    """One session as the console shows it."""

    id: str
    protocol: str
    listener: str
    peer: str
    tls: bool
    started: float
    user: str | None = None
    ended: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    #: ``(time, direction, text)``; direction ``C``, ``S`` or ``*`` (a note).
    lines: list[tuple[float, str, str]] = field(default_factory=list)
    dropped: int = 0
    octets: int = 0

    @property
    def ip(self) -> str:
        return self.peer.rpartition(":")[0]

    def summary(self) -> dict[str, Any]:
        """JSON-friendly facts without the lines."""
        return {
            "session": self.id,
            "protocol": self.protocol,
            "listener": self.listener,
            "peer": self.peer,
            "tls": self.tls,
            "user": self.user,
            "started": self.started,
            "ended": self.ended,
            "counts": dict(self.counts),
            "lines": len(self.lines) + self.dropped,
        }

    def matches(self, user: str = "", address: str = "", protocol: str = "") -> bool:
        """The console's filters: account, client address (prefix) and protocol."""
        if user and (self.user or "").lower() != user.lower():
            return False
        if address and not self.peer.startswith(address):
            return False
        return not protocol or self.protocol == protocol.lower()

    def text(self) -> str:
        """The transcript as a plain text file (what the console downloads)."""
        head = (
            f"# {self.protocol} session {self.id} on {self.listener} from {self.peer}"
            f"{', user ' + self.user if self.user else ''}"
            f"{', TLS' if self.tls else ''}\n"
        )
        body = "".join(format_line(t, d, text) + "\n" for t, d, text in self.lines)
        tail = f"# ... {self.dropped} more lines not kept\n" if self.dropped else ""
        return head + body + tail


def format_line(when: float, direction: str, text: str) -> str:
    """``12:03:04.512 C: EHLO pc1``: the shape of every transcript line."""
    stamp = time.strftime("%H:%M:%S", time.localtime(when)) + f".{int(when * 1000) % 1000:03d}"
    return f"{stamp} {direction}: {text}"


class TranscriptArchive:
    """Subscribes to ``session.*``; answers "who is connected" and "what did they type"."""

    def __init__(self, keep_sessions: int = 200, keep_octets: int = 16 * 1024 * 1024) -> None:
        self.keep_sessions = keep_sessions
        self.keep_octets = keep_octets
        self.live: dict[str, SessionRecord] = {}
        self.finished: OrderedDict[str, SessionRecord] = OrderedDict()
        self._finished_octets = 0
        self._subscriptions: list[Subscription] = []

    def attach(self, bus: EventBus) -> None:
        handlers = {
            Topic.SESSION_OPENED: self._opened,
            Topic.SESSION_LOGIN: self._login,
            Topic.SESSION_LINE: self._line,
            Topic.SESSION_CLOSED: self._closed,
        }
        for topic, handler in handlers.items():
            self._subscriptions.append(bus.subscribe(topic, handler))

    def detach(self) -> None:
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions.clear()

    # --------------------------------------------------------------- feed

    def _opened(self, event: Event) -> None:
        data = event.data
        self.live[str(data["session"])] = SessionRecord(
            id=str(data["session"]),
            protocol=str(data.get("protocol", "")),
            listener=str(data.get("listener", "")),
            peer=str(data.get("peer", "")),
            tls=bool(data.get("tls")),
            started=event.time,
        )

    def _login(self, event: Event) -> None:
        record = self.live.get(str(event.data.get("session")))
        if record is not None:
            record.user = str(event.data.get("user"))

    def _line(self, event: Event) -> None:
        record = self.live.get(str(event.data.get("session")))
        if record is None:
            return
        if len(record.lines) >= MAX_LINES_PER_SESSION:
            record.dropped += 1
            return
        text = str(event.data.get("text", ""))
        direction = str(event.data.get("direction", "?"))
        if direction == "*" and text.startswith("TLS established"):
            record.tls = True
        record.lines.append((event.time, direction, text))
        record.octets += len(text) + LINE_OVERHEAD

    def _closed(self, event: Event) -> None:
        record = self.live.pop(str(event.data.get("session")), None)
        if record is None:
            return
        record.ended = event.time
        record.counts = dict(event.data.get("counts") or {})
        record.tls = bool(event.data.get("tls", record.tls))
        record.user = event.data.get("user") or record.user
        if self.keep_sessions <= 0:
            return
        self.finished[record.id] = record
        self._finished_octets += record.octets
        while self.finished and (
            len(self.finished) > self.keep_sessions or self._finished_octets > self.keep_octets
        ):
            _, oldest = self.finished.popitem(last=False)
            self._finished_octets -= oldest.octets

    # -------------------------------------------------------------- query

    def get(self, session_id: str) -> SessionRecord | None:
        return self.live.get(session_id) or self.finished.get(session_id)

    def sessions(self) -> Iterator[SessionRecord]:
        """Live sessions first, then finished ones, newest first."""
        yield from sorted(self.live.values(), key=lambda r: r.started, reverse=True)
        yield from reversed(self.finished.values())

    def connected(self) -> list[dict[str, Any]]:
        """Who is connected now, oldest first."""
        return [r.summary() for r in sorted(self.live.values(), key=lambda r: r.started)]


_ARCHIVES: weakref.WeakKeyDictionary[EventBus, TranscriptArchive] = weakref.WeakKeyDictionary()


def shared_archive(
    bus: EventBus, keep_sessions: int = 200, keep_octets: int = 16 * 1024 * 1024
) -> TranscriptArchive:
    """The one archive listening on ``bus``, created and attached on first use.

    The server creates it at start-up with the configured bounds; the web
    console (and anything else) finds the same one here instead of keeping
    a second copy of every transcript.
    """
    archive = _ARCHIVES.get(bus)
    if archive is None:
        archive = TranscriptArchive(keep_sessions, keep_octets)
        archive.attach(bus)
        _ARCHIVES[bus] = archive
    return archive


def release_archive(bus: EventBus) -> None:
    """Detach and forget the archive of ``bus`` (server shutdown)."""
    archive = _ARCHIVES.pop(bus, None)
    if archive is not None:
        archive.detach()
