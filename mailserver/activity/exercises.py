"""The lab exercises the server can recognise from a finished session.

Each rule looks only at what ``session.closed`` carries (protocol, account,
TLS, the session's counts), so it works the same for every transport of the
event channel. Keys are stable (they are stored); titles are for people.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Exercise:
    key: str
    title: str
    done: Callable[[dict[str, Any]], bool]


def _count(session: dict[str, Any], name: str) -> int:
    counts = session.get("counts") or {}
    value = counts.get(name, 0)
    return value if isinstance(value, int) else 0


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        "smtp-auth-send",
        "sent a message by SMTP with AUTH (exercise 2)",
        lambda s: s.get("protocol") == "smtp" and _count(s, "messages") > 0,
    ),
    Exercise(
        "pop3-download",
        "downloaded by POP3 and quit (exercise 3)",
        lambda s: (
            s.get("protocol") == "pop3" and _count(s, "retrieved") > 0 and _count(s, "updated") > 0
        ),
    ),
    Exercise(
        "imap-uid-fetch",
        "fetched by UID over IMAP (exercise 4)",
        lambda s: s.get("protocol") == "imap" and _count(s, "uid_fetch") > 0,
    ),
    Exercise(
        "tls",
        "logged in over TLS (exercise 7)",
        lambda s: bool(s.get("tls")),
    ),
)


def exercises_done(session: dict[str, Any]) -> list[str]:
    """Keys of the exercises one finished, logged-in session shows."""
    if not session.get("user"):
        return []
    return [exercise.key for exercise in EXERCISES if exercise.done(session)]
