"""The one object a protocol session talks to about its transcript.

A session creates a :class:`SessionRecorder` when it starts and calls it at
a few points: bytes received, bytes sent, login, TLS, a count of something
worth counting, the end. The recorder publishes ``session.*`` events on the
event channel (the console, the transcript files and the activity record
listen there), and writes the one log line that closes every session.

Lines are only cut and masked when somebody listens to ``session.line``
(``events.wants``), decided once per session: a server with no console and
no transcript files pays a dictionary lookup per session, not per line.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections import Counter

from mailserver.config.model import TranscriptSettings
from mailserver.events import EventBus, Topic
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


def new_session_id() -> str:
    """Unique within this process and, with the pid and start time, across restarts."""
    return f"{int(time.time()):x}-{os.getpid()}-{next(_ids)}"


class SessionRecorder:
    """Transcript, events and the closing log line of one session."""

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
        self.counts: Counter[str] = Counter()
        self._events = events
        self._log = log
        #: How log lines of this session start (each protocol has its habit).
        self.where = where
        self._started = time.monotonic()
        self._closed = False
        events.emit(Topic.SESSION_OPENED, **self._about())
        self._client: StreamLines | None = None
        self._server: StreamLines | None = None
        if events.wants(Topic.SESSION_LINE):
            rules = RULES.get(self.protocol)
            self._rules = (rules or RULES["smtp"])(settings.passwords == "show")
            imap = self.protocol == "imap"
            self._client = StreamLines(
                self._client_line,
                lambda text: self._line("C", text),
                settings.body_lines,
                literals=imap,
                sync_literals=True,
            )
            self._server = StreamLines(
                self._server_line,
                lambda text: self._line("S", text),
                settings.body_lines,
                literals=imap,
            )
            self._rules.client = self._client

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
        if self._client is not None:
            self._client.feed(data)

    def server(self, data: bytes) -> None:
        """Bytes sent to the client, in any pieces."""
        if self._server is not None:
            self._server.feed(data)

    def server_body(self, keep: int | None = None) -> None:
        """What the server sends next is a dot-terminated body (POP3 RETR, TOP, LIST)."""
        if self._server is not None:
            self._server.dot_body(keep)

    def note(self, text: str) -> None:
        """Something that happened without a line on the wire (TLS, a timeout)."""
        if self._client is not None:
            self._line("*", text)

    def _client_line(self, line: bytes) -> None:
        self._line("C", self._rules.client_line(line))

    def _server_line(self, line: bytes) -> None:
        self._line("S", self._rules.server_line(line))

    def _line(self, direction: str, text: str) -> None:
        self._events.emit(Topic.SESSION_LINE, session=self.id, direction=direction, text=text)

    # ------------------------------------------------------------- facts

    def login(self, user: str, mechanism: str) -> None:
        self.user = user
        self._events.emit(Topic.SESSION_LOGIN, user=user, mechanism=mechanism, **self._about())

    def secured(self, description: str = "") -> None:
        """TLS is now on (STARTTLS, STLS)."""
        self.tls = True
        self.note(f"TLS established {description}".strip())

    def count(self, name: str, amount: int = 1) -> None:
        """Something worth a number in the closing line (a message stored, a RETR ...)."""
        self.counts[name] += amount

    def close(self) -> None:
        """The session ended: one log line and ``session.closed``; safe to call twice."""
        if self._closed:
            return
        self._closed = True
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
        self._events.emit(
            Topic.SESSION_CLOSED,
            duration=round(duration, 3),
            user=self.user,
            counts=dict(self.counts),
            **self._about(),
        )
