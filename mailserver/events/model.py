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
    #: "peer": "ip:port", "tls": bool}``
    SESSION_OPENED = "session.opened"
    #: A session logged in: ``{"session": str, "user": str, "mechanism": str}``
    SESSION_LOGIN = "session.login"
    #: One transcript line: ``{"session": str, "direction": "C"|"S", "text": str}``
    #: (bodies shortened, passwords masked by the producer).
    SESSION_LINE = "session.line"
    #: A session ended: ``{"session": str, "duration": float, "user": str|None,
    #: "counts": {str: int}}``
    SESSION_CLOSED = "session.closed"
    #: A login failed or an address was blocked or unblocked:
    #: ``{"ip": str, "user": str|None, "action": "failure"|"block"|"unblock"|"success"}``
    AUTH = "auth"
    #: Something an operator asked for: ``{"action": str, ...}`` (queue flush, reload).
    CONTROL = "control"


@dataclass(frozen=True)
class Event:
    """One fact, stamped with where and when it happened."""

    topic: str
    data: dict[str, Any]
    #: Wall-clock seconds (``time.time()``): consumers in other processes compare them.
    time: float = field(default_factory=time.time)
    #: Process id of the publisher, so a worker can skip its own echoes.
    origin: int = field(default_factory=os.getpid)

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
