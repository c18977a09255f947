"""What travels on the event channel: small, JSON-serialisable facts.

Every event must survive ``json.dumps`` unchanged so that it can cross a
process boundary (a Unix socket between workers) or a machine boundary (an
external broker) without a second format. Payloads hold strings, numbers,
booleans, lists and dicts only; never bytes, never live objects.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any


class Topic:
    """The topics in use, with the payload keys each one carries.

    A topic is a plain string so that transports need no registry; these
    constants keep producers and consumers spelling them alike.
    """

    #: A folder changed (append, flags, expunge, create, delete, rename).
    #: ``{"user": str, "folder": str, "change": "messages"|"flags"|"expunge"|"folders"}``;
    #: ``"folders"`` adds ``"exists": bool`` and, for a rename, ``"old": str``;
    #: ``"subscriptions"`` (a (un)subscribe) adds ``"subscribed": bool``. IMAP's
    #: commands also add ``"session"`` (an id) so a session can skip its own echoes.
    MAILBOX = "mailbox"
    #: A session started: ``{"session": str, "protocol": str, "listener": str,
    #: "peer": "ip:port", "tls": bool}``. The session's own process sees it at once,
    #: the others with its first ``session.lines`` (or ``session.closed``) in one
    #: message, within ``FLUSH_DELAY`` (``SessionRecorder``, ``EventBus.publish_many``).
    SESSION_OPENED = "session.opened"
    #: A session logged in: ``{"session": str, "user": str, "mechanism": str}``, plus
    #: the keys of SESSION_OPENED (``tls`` as it is now), for consumers that joined late.
    SESSION_LOGIN = "session.login"
    #: Transcript lines of one session, in order, one event for up to 50 ms of them
    #: (``mailserver.transcripts.recorder.FLUSH_DELAY``):
    #: ``{"session": str, "lines": str}``, the lines joined by ``"\n"``, each starting
    #: with its direction character, ``C`` (client), ``S`` (server) or ``*`` (a note
    #: such as "TLS established" or "idle timeout" with no line on the wire), e.g.
    #: ``"CEHLO pc1\nS250-mail.lab"``. A line never holds a line break (control
    #: characters are shown escaped); bodies and long responses are shortened and
    #: passwords masked by the producer. One string rather than a list of pairs: it
    #: is encoded, sent, decoded and kept with no Python work per line.
    #: ``mailserver.transcripts.archive.split_lines`` takes it apart.
    SESSION_LINES = "session.lines"
    #: A session ended: ``{"session": str, "duration": float, "user": str|None,
    #: "counts": {str: int}}`` plus the keys of SESSION_OPENED (``tls``: whether TLS
    #: was on at the end). Counts: ``commands`` and, where they happened, ``messages``
    #: (SMTP), ``retrieved``/``deleted``/``updated`` (POP3), ``fetch``/``uid_fetch``/
    #: ``expunged`` (IMAP); see ``mailserver.activity.exercises``.
    SESSION_CLOSED = "session.closed"
    #: A worker that started late (SIGHUP, a crash) or whose console is read asks
    #: ``{"action": "ask", "request": str}``; each other worker answers with one
    #: ``{"action": "record", "record": {...}, "to": pid}`` per session it keeps, then
    #: ``{"action": "done", "request": str, "to": pid}`` (``to``: the asker's pid). A
    #: worker that stops hands over its records without ``to`` (for everyone).
    SESSION_SYNC = "session.sync"
    #: A login failed or an address was blocked or unblocked:
    #: ``{"ip": str, "user": str|None, "action": "failure"|"block"|"unblock"|"success"}``;
    #: a new worker asks ``"sync"`` and the others answer ``"state"`` (their blocks and counts).
    AUTH = "auth"
    #: Something an operator asked for: ``{"action": str, ...}`` (queue flush, reload).
    #: ``{"action": "queue.scan"}`` makes the queue manager look at the queue now
    #: (published when a message was queued). ``{"action": "worker.gone", "pid": int}``:
    #: the supervisor saw a worker end; sessions it still had are over.
    CONTROL = "control"
    #: One outbound delivery attempt for one recipient: ``{"queue_id": str,
    #: "recipient": str, "relay": str, "status": "sent"|"deferred"|"bounced",
    #: "reply": str, "delay": float}``
    RELAY = "relay"


_pid = os.getpid()


def _reset_pid() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_reset_pid)


def current_pid() -> int:
    """``os.getpid()`` without a system call per event (kept right across ``fork``)."""
    return _pid


@dataclass(frozen=True, slots=True)
class Event:
    """One fact, stamped with where and when it happened."""

    topic: str
    data: dict[str, Any]
    #: Wall-clock seconds (``time.time()``): consumers in other processes compare them.
    time: float = field(default_factory=time.time)
    #: Process id of the publisher, so a worker can skip its own echoes.
    origin: int = field(default_factory=current_pid)

    def to_json(self) -> dict[str, Any]:
        return {"topic": self.topic, "data": self.data, "time": self.time, "origin": self.origin}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Event:
        return cls(
            topic=str(raw["topic"]),
            data=dict(raw.get("data") or {}),
            time=float(raw.get("time", 0.0)),
            origin=int(raw.get("origin", 0)),
        )
