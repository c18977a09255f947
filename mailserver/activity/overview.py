"""The class overview: every account with its mail, last login and exercises.

Shared by ``mailserver lab status`` and the instructor's console, so both
show the same thing. Reads the user database, the store and the activity
record; changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mailserver.activity.exercises import EXERCISES
from mailserver.activity.tracker import Record
from mailserver.storage import MailStore, StorageError


@dataclass(frozen=True)
class AccountStatus:
    name: str
    messages: int
    octets: int
    last_login: float | None
    protocol: str | None
    peer: str | None
    exercises: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "messages": self.messages,
            "octets": self.octets,
            "last_login": self.last_login,
            "protocol": self.protocol,
            "peer": self.peer,
            "exercises": list(self.exercises),
        }


async def class_overview(
    names: list[str], store: MailStore, activity: Record
) -> list[AccountStatus]:
    """One row per account in natural order (``group2_1`` before ``group10_1``, as
    ``user list`` shows them); the store's errors show as zero mail."""
    rows = []
    order = [exercise.key for exercise in EXERCISES]
    for name in sorted(names, key=natural_key):
        try:
            octets, messages = await (await store.mailbox(name)).usage()
        except StorageError:
            octets = messages = 0
        entry = activity.get(name.lower(), {})
        done = entry.get("exercises") or {}
        rows.append(
            AccountStatus(
                name=name,
                messages=messages,
                octets=octets,
                last_login=entry.get("last_login"),
                protocol=entry.get("protocol"),
                peer=entry.get("peer"),
                exercises=[key for key in order if key in done],
            )
        )
    return rows


def natural_key(name: str) -> list[int | str]:
    """Digits compare as numbers: ``group2_1`` < ``group10_1``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def human_size(octets: int) -> str:
    size = float(octets)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
