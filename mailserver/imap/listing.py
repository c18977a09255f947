"""LIST / LSUB name matching (RFC 3501 6.3.8): ``*`` matches anything, ``%`` anything
but the hierarchy delimiter; INBOX matches case-insensitively."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mailserver.storage import DELIMITER, INBOX


class NamePattern:
    """A compiled LIST pattern.

    INBOX is case-insensitive (RFC 3501 5.1), so a pattern that starts with
    ``inbox`` in any case is matched against INBOX and its children as if it
    said ``INBOX``: ``inbox*`` finds ``INBOX`` and ``INBOX/Sub``, while every
    other name is matched exactly as written (``inbox*`` still finds a
    folder called ``inbox-old``).
    """

    def __init__(self, pattern: str) -> None:
        self._plain = _compile(pattern)
        has_inbox_prefix = pattern[:5].upper() == INBOX
        self._inbox = _compile(INBOX + pattern[5:]) if has_inbox_prefix else self._plain

    def matches(self, name: str) -> bool:
        in_inbox = name == INBOX or name.startswith(INBOX + DELIMITER)
        return (self._inbox if in_inbox else self._plain).fullmatch(name) is not None


def _compile(pattern: str) -> re.Pattern[str]:
    out = []
    for char in pattern:
        if char == "*":
            out.append(".*")
        elif char == "%":
            out.append(f"[^{re.escape(DELIMITER)}]*")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


@dataclass(frozen=True)
class Listed:
    name: str
    #: Not a folder itself, only the parent of some (``\\Noselect``).
    noselect: bool
    has_children: bool


def list_entries(names: Iterable[str], pattern: str) -> list[Listed]:
    """Folders and implied parents matching ``pattern``, sorted, INBOX first."""
    existing = set(names)
    everything = set(existing)
    for name in existing:
        parts = name.split(DELIMITER)
        for depth in range(1, len(parts)):
            everything.add(DELIMITER.join(parts[:depth]))
    parents = {name.rsplit(DELIMITER, 1)[0] for name in everything if DELIMITER in name}
    matcher = NamePattern(pattern)
    found = [
        Listed(name, name not in existing, name in parents)
        for name in everything
        if matcher.matches(name)
    ]
    found.sort(key=lambda entry: (entry.name != INBOX, entry.name))
    return found


def lsub_entries(subscribed: Iterable[str], pattern: str) -> list[Listed]:
    """LSUB's answer (RFC 3501 6.3.9): subscribed names matching ``pattern``, and a parent
    that is not subscribed itself (``noselect``) only where the pattern stops above a
    subscribed name, as ``%`` does for ``foo`` over ``foo/bar``; with ``*`` the
    subscribed name is listed and its parent is not."""
    names = set(subscribed)
    matcher = NamePattern(pattern)
    hidden = [name for name in names if not matcher.matches(name)]
    return [
        entry
        for entry in list_entries(names, pattern)
        if not entry.noselect or any(name.startswith(entry.name + DELIMITER) for name in hidden)
    ]
