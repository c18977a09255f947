"""The one object a protocol session talks to about its transcript.

A session creates a :class:`SessionRecorder` when it starts and calls it at
a few points: bytes received, bytes sent, login, TLS, a count of something
worth counting, the end. The recorder publishes ``session.*`` events on the
event channel (the console, the transcript files and the activity record
listen there), and writes the one log line that closes every session.

Lines are only cut and masked when somebody listens to ``session.lines``
(``events.wants``), decided once per session: a server with no console and
no transcript files pays a dictionary lookup per session, not per line.

Lines are batched: those of one session within :data:`FLUSH_DELAY` go out
as one event (stamped with the time of its first line), so a POP3 session
that RETRs 30 messages costs a handful of events rather than 350 (one per
line, each JSON-encoded, sent to the supervisor, decoded, encoded again for
the other worker and decoded there). The console still shows every line
well within a second. The order of lines across both directions is kept
(one list), and a batch goes out before the login or the end of the session.

``session.opened`` reaches this process's subscribers at once but the
other processes with the first batch, and whatever is pending at the end
goes out with ``session.closed``, all in one ``publish_many``: a short
session (an SMTP client delivering one message, a POP3 check) is one
message on the channel between processes, not three (each encoded, read
and forwarded by the supervisor, read and decoded by the other worker).
Subscribers everywhere still see opened, lines and closed, in that order.

**Deferred cutting.** While only quiet subscribers (the worker's own
archive, ``EventBus.subscribe(..., announce=False)``) listen to
``session.lines``, nobody may ever read an SMTP session's lines: a
session per message, mostly unread. Such a session keeps its raw bytes
(up to :data:`DEFER_OCTETS`) and cuts them only when something reads its
record (``SessionRecord``: the console, a sync answer) or a live listener
appears (a console opened: :func:`cut_deferred`, or the check at the next
bytes); then its lines come out as they would have, in batches with their
own times. Cutting them as they came cost 0.05-0.1 ms of the ~0.9 ms a
message costs the server.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import weakref
from typing import cast

from mailserver.config.model import TranscriptSettings
from mailserver.events import Event, EventBus, Topic
from mailserver.events.model import current_pid
from mailserver.transcripts.lines import StreamLines
from mailserver.transcripts.rules import RULES

#: Protocol family of each listener key.
PROTOCOL_OF: dict[str, str] = {
    "smtp": "smtp",
    "submission": "smtp",
    "smtps": "smtp",
    "pop3": "pop3",
    "pop3s": "pop3",
    "imap": "imap",
    "imaps": "imap",
}

_ids = itertools.count(1)

#: Seconds a session's lines wait to go out together as one ``session.lines`` event.
FLUSH_DELAY = 0.05
#: Lines in one batch at most (a client that pipelines thousands of commands).
MAX_BATCH = 1000
#: Octets of a deferred session's raw bytes kept uncut at most; past them it is cut.
DEFER_OCTETS = 16 * 1024
#: Protocols whose sessions may defer cutting: SMTP's are one per message, short,
#: and mostly unread. (An idle IMAP session's lines are cut and packed in a second.)
DEFERRED_PROTOCOLS = frozenset({"smtp"})

#: What the recorder keeps of a deferred session: (time, kind, payload) per call,
#: kind ``C``/``S`` (bytes), ``B`` (a dot body follows: its ``keep``) or ``*`` (a note).
_Op = tuple[float, str, object]
#: Live sessions of this process that defer cutting, by id (:func:`cut_deferred`);
#: weak, so that a recorder dropped without ``close()`` (a test) is not kept.
_deferring: weakref.WeakValueDictionary[str, SessionRecorder] = weakref.WeakValueDictionary()


def cut_deferred() -> None:
    """Cut every live deferred session of this process now (a console reads)."""
    for recorder in list(_deferring.values()):
        recorder.cut_lines()


def deferring(session_id: str) -> SessionRecorder | None:
    """The recorder of a live session of this process that keeps its lines uncut:
    the archive keeps it with the session's record, to cut them when read."""
    return _deferring.get(session_id)


def new_session_id() -> str:
    """Unique within this process and, with the pid and start time, across restarts."""
    # current_pid(): os.getpid() is a system call, and a session starts per SMTP message.
    return f"{int(time.time()):x}-{current_pid()}-{next(_ids)}"


class SessionRecorder:
    """Transcript, events and the closing log line of one session."""

    __slots__ = (
        "__weakref__",
        "_client",
        "_closed",
        "_deferred_octets",
        "_events",
        "_log",
        "_loop",
        "_opened",
        "_ops",
        "_pending",
        "_rules",
        "_scheduled",
        "_server",
        "_settings",
        "_since",
        "_started",
        "counts",
        "id",
        "listener",
        "peer",
        "protocol",
        "tls",
        "user",
        "where",
    )

    def __init__(
        self,
        events: EventBus,
        settings: TranscriptSettings,
        listener: str,
        ip: str,
        port: int,
        *,
        tls: bool,
        log: logging.Logger,
        where: str,
    ) -> None:
        self.id = new_session_id()
        self.protocol = PROTOCOL_OF.get(listener, listener)
        self.listener = listener
        self.peer = f"{ip}:{port}"
        self.tls = tls
        self.user: str | None = None
        self.counts: dict[str, int] = {}
        self._events = events
        self._log = log
        #: How log lines of this session start (each protocol has its habit).
        self.where = where
        self._started = time.monotonic()
        self._closed = False
        #: ``session.opened``, shown here, until the first batch or the end takes
        #: it to the other processes.
        self._opened: Event | None = None
        self._client: StreamLines | None = None
        self._server: StreamLines | None = None
        #: Lines not yet published, each its direction character and its text.
        self._pending: list[str] = []
        #: When the first pending line came (the batch's time).
        self._since = 0.0
        self._scheduled = False
        self._settings = settings
        #: While deferring: what came, uncut (see the module docstring).
        self._ops: list[_Op] | None = None
        self._deferred_octets = 0
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a unit test): each call publishes at once
            self._loop = None
        if events.wants(Topic.SESSION_LINES):
            if self.protocol in DEFERRED_PROTOCOLS and not events.wants_live(Topic.SESSION_LINES):
                self._ops = []
                _deferring[self.id] = self
            else:
                self._start_cutting()
        if events.wants(Topic.SESSION_OPENED):
            # After the choice above: the archive asks whether this session defers.
            self._opened = Event(Topic.SESSION_OPENED, self._about())
            events.show_here(self._opened)
            if self._loop is None:
                self.flush()
            elif self._ops is None:
                # (A deferring session's opening goes with its end: nobody else listens.)
                self._arm()

    def _start_cutting(self) -> None:
        settings = self._settings
        rules = RULES.get(self.protocol)
        self._rules = (rules or RULES["smtp"])(settings.passwords == "show")
        imap = self.protocol == "imap"
        kind = type(self._rules)
        self._client = StreamLines(
            self._rules,
            kind.client_line,
            self._pending,
            "C",
            settings.body_lines,
            literals=imap,
            sync_literals=True,
        )
        self._server = StreamLines(
            self._rules,
            kind.server_line,
            self._pending,
            "S",
            settings.body_lines,
            literals=imap,
            limit=settings.response_lines,
        )
        # A command ends the server's (shortened) response to the one before.
        self._client.peer = self._server
        if self._rules.knows_response_end:
            self._server.ends_response = kind.ends_response
        self._rules.client = self._client

    def _stop_cutting(self) -> None:
        """The streams and the rules point back at us: without these links the
        session's objects go at once, not at the garbage collector's next pass."""
        if self._client is not None:
            self._rules.client = None
            self._client = self._server = None

    def _about(self) -> dict[str, object]:
        return {
            "session": self.id,
            "protocol": self.protocol,
            "listener": self.listener,
            "peer": self.peer,
            "tls": self.tls,
        }

    # ---------------------------------------------------------- the wire

    def client(self, data: bytes) -> None:
        """Bytes the client sent, in any pieces."""
        self._take_in("C", data, len(data))

    def server(self, data: bytes) -> None:
        """Bytes sent to the client, in any pieces."""
        self._take_in("S", data, len(data))

    def server_body(self, keep: int | None = None) -> None:
        """What the server sends next is a dot-terminated body (POP3 RETR, TOP, LIST)."""
        self._take_in("B", keep, 0)

    def note(self, text: str) -> None:
        """Something that happened without a line on the wire (TLS, a timeout)."""
        self._take_in("*", text, len(text))

    def _take_in(self, kind: str, payload: object, size: int) -> None:
        """Cut it into lines now, or keep it uncut while deferring (:data:`_Op`)."""
        ops = self._ops
        if ops is not None:
            ops.append((time.time(), kind, payload))
            self._deferred_octets += size
            if self._deferred_octets > DEFER_OCTETS or self._events.wants_live(Topic.SESSION_LINES):
                self.cut_lines()
        elif self._client is not None:
            self._cut(kind, payload)
            if self._pending:
                self._schedule()

    def _cut(self, kind: str, payload: object) -> None:
        """One :meth:`_take_in` into the streams (their lines go to ``_pending``)."""
        client, server = self._client, self._server
        assert client is not None and server is not None
        if kind == "C":
            client.feed(cast(bytes, payload))
        elif kind == "S":
            server.feed(cast(bytes, payload))
        elif kind == "B":
            server.dot_body(cast("int | None", payload))
        else:
            self._pending.append("*" + str(payload).replace("\n", " "))  # one line, always

    # ---------------------------------------------------------- deferred

    @property
    def uncut_octets(self) -> int:
        """Octets kept uncut (0 once cut, or when the session never deferred)."""
        return self._deferred_octets if self._ops is not None else 0

    def cut_lines(self) -> list[tuple[float, str]]:
        """Cut what is kept uncut, as it would have been cut as it came.

        A live session publishes the lines (``session.lines`` events with their
        own times) and goes on cutting as they come; it returns none. An ended
        one returns them as the ``(time, lines)`` batches those events would
        have carried (its record, read at last, keeps them)."""
        ops = self._ops
        if ops is None:
            return []
        self._ops = None
        _deferring.pop(self.id, None)
        self._start_cutting()
        if self._closed:
            try:
                return self._replay(ops, ended=True)
            finally:
                self._stop_cutting()
        events = self._take_opened()
        events += [self._lines_event(when, text) for when, text in self._replay(ops)]
        self._publish(events)
        return []

    def _replay(self, ops: list[_Op], *, ended: bool = False) -> list[tuple[float, str]]:
        """Cut ``ops``: ``(time, lines)`` batches of at most :data:`FLUSH_DELAY`
        (or :data:`MAX_BATCH` lines) each, as :meth:`_schedule` makes them."""
        batches: list[tuple[float, str]] = []
        pending = self._pending
        since = 0.0
        for when, kind, payload in ops:
            if pending and (when - since >= FLUSH_DELAY or len(pending) >= MAX_BATCH):
                batches.append((since, "\n".join(pending)))
                pending.clear()
            was_empty = not pending
            self._cut(kind, payload)
            if was_empty and pending:
                since = when
        if ended and self._server is not None:
            self._server.end_response()
            if pending and not since:
                since = ops[-1][0] if ops else time.time()
        if pending:
            batches.append((since, "\n".join(pending)))
            pending.clear()
        return batches

    def _lines_event(self, when: float, text: str) -> Event:
        return Event(Topic.SESSION_LINES, {"session": self.id, "lines": text}, time=when)

    def _schedule(self) -> None:
        """Publish the pending lines in :data:`FLUSH_DELAY` (at once without a loop)."""
        if not self._since:
            self._since = time.time()  # the batch's time: its first line's
        if self._scheduled:
            if len(self._pending) >= MAX_BATCH:
                self.flush()
            return
        if self._loop is None:
            self.flush()
            return
        self._arm()

    def _arm(self) -> None:
        """:meth:`flush` in :data:`FLUSH_DELAY`."""
        assert self._loop is not None
        self._scheduled = True
        self._loop.call_later(FLUSH_DELAY, self.flush)

    def _take_opened(self) -> list[Event]:
        """``session.opened`` if it is not yet sent elsewhere (shown here: :meth:`_publish`)."""
        opened, self._opened = self._opened, None
        return [] if opened is None else [opened]

    def _take(self) -> list[Event]:
        """What is pending: ``session.opened`` not yet sent elsewhere (shown here:
        :meth:`_publish`), then one ``session.lines``."""
        events = self._take_opened()
        if self._pending:
            text = "\n".join(self._pending)
            self._pending.clear()
            events.append(self._lines_event(self._since or time.time(), text))
        self._since = 0.0
        return events

    def flush(self) -> None:
        """Publish what is pending now (opened, and the lines as one event)."""
        self._scheduled = False
        self._publish(self._take())

    def _publish(self, events: list[Event]) -> None:
        """``events`` in one ``publish_many``; a ``session.opened`` among them
        (always first) was shown here when the session began."""
        if events:
            shown = 1 if events[0].topic == Topic.SESSION_OPENED else 0
            self._events.publish_many(events, shown_here=shown)

    # ------------------------------------------------------------- facts

    def login(self, user: str, mechanism: str) -> None:
        self.user = user
        self.flush()
        self._events.emit(Topic.SESSION_LOGIN, user=user, mechanism=mechanism, **self._about())

    def secured(self, description: str = "") -> None:
        """TLS is now on (STARTTLS, STLS)."""
        self.tls = True
        self.note(f"TLS established {description}".strip())

    def count(self, name: str, amount: int = 1) -> None:
        """Something worth a number in the closing line (a message stored, a RETR ...)."""
        self.counts[name] = self.counts.get(name, 0) + amount

    def close(self) -> None:
        """The session ended: one log line and ``session.closed``; safe to call twice."""
        if self._closed:
            return
        if self._ops is not None and self._events.wants_live(Topic.SESSION_LINES):
            self.cut_lines()  # somebody reads lines as they come now
        self._closed = True
        # Still uncut: they stay with the recorder, which the record keeps (cut_lines).
        _deferring.pop(self.id, None)
        if self._server is not None:
            self._server.end_response()  # what a shortened last response held
        events = self._take()
        self._stop_cutting()
        duration = time.monotonic() - self._started
        counts = " ".join(f"{key}={value}" for key, value in sorted(self.counts.items()))
        self._log.info(
            "%s session ended after %.1fs, user %s, %s%s",
            self.where,
            duration,
            self.user or "-",
            "TLS" if self.tls else "plaintext",
            f", {counts}" if counts else "",
        )
        if self._events.wants(Topic.SESSION_CLOSED):
            data = {
                "duration": round(duration, 3),
                "user": self.user,
                "counts": dict(self.counts),
                **self._about(),
            }
            events.append(Event(Topic.SESSION_CLOSED, data))
        self._publish(events)  # a short session's only message between processes
