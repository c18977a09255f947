"""LIST / LSUB name matching (RFC 3501 6.3.8): ``*`` matches anything, ``%`` anything
but the hierarchy delimiter; INBOX matches case-insensitively."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mailserver.storage import DELIMITER, INBOX


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """Compile a (decoded) LIST pattern; a leading ``INBOX`` matches in any case."""
    out = []
    for char in pattern:
        if char == "*":
            out.append(".*")
        elif char == "%":
            out.append(f"[^{re.escape(DELIMITER)}]*")
        else:
            out.append(re.escape(char))
    body = "".join(out)
    return re.compile(body, re.DOTALL)


def matches(pattern: re.Pattern[str], name: str) -> bool:
    return pattern.fullmatch(name) is not None


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
    regex = pattern_regex(_canonical_inbox(pattern))
    found = [
        Listed(name, name not in existing, name in parents)
        for name in everything
        if matches(regex, name)
    ]
    found.sort(key=lambda entry: (entry.name != INBOX, entry.name))
    return found


def lsub_entries(subscribed: Iterable[str], pattern: str) -> list[Listed]:
    """LSUB's answer (RFC 3501 6.3.9): subscribed names matching ``pattern``, and a parent
    that is not subscribed itself (``noselect``) only where the pattern stops above a
    subscribed name, as ``%`` does for ``foo`` over ``foo/bar``; with ``*`` the
    subscribed name is listed and its parent is not."""
    names = set(subscribed)
    regex = pattern_regex(_canonical_inbox(pattern))
    hidden = [name for name in names if not matches(regex, name)]
    return [
        entry
        for entry in list_entries(names, pattern)
        if not entry.noselect or any(name.startswith(entry.name + DELIMITER) for name in hidden)
    ]


def _canonical_inbox(pattern: str) -> str:
    if pattern[:5].upper() == INBOX and (len(pattern) == 5 or pattern[5] == DELIMITER):
        return INBOX + pattern[5:]
    return pattern
