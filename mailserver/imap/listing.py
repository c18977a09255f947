"""LIST / LSUB name matching (RFC 3501 6.3.8): ``*`` matches anything, ``%`` anything
but the hierarchy delimiter; INBOX matches case-insensitively."""

from __future__ import annotations

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
        return (self._inbox if in_inbox else self._plain).fullmatch(name)


class _Glob:
    """A LIST pattern matched by stepping a set of pattern positions along the name
    (an NFA), never by backtracking: ``*%*%*%*%*%x`` against a long name costs
    ``len(pattern) * len(name)`` steps, where the regular expression it used to be
    compiled to ran for minutes and stalled every session (issue 14)."""

    _STAR = object()
    _PERCENT = object()

    def __init__(self, pattern: str) -> None:
        tokens: list[object] = []
        for char in pattern:
            token = self._STAR if char == "*" else self._PERCENT if char == "%" else char
            if (
                tokens
                and token in (self._STAR, self._PERCENT)
                and tokens[-1]
                in (
                    self._STAR,
                    self._PERCENT,
                )
            ):
                # A run of wildcards is one: "*" if it has a "*", else "%".
                if token is self._STAR:
                    tokens[-1] = self._STAR
                continue
            tokens.append(token)
        self.tokens = tokens

    def _closure(self, states: set[int]) -> set[int]:
        tokens = self.tokens
        out = set(states)
        for i in sorted(states):
            while i < len(tokens) and tokens[i] in (self._STAR, self._PERCENT):
                i += 1
                out.add(i)
        return out

    def fullmatch(self, name: str) -> bool:
        tokens = self.tokens
        states = self._closure({0})
        for char in name:
            step: set[int] = set()
            for i in states:
                if i == len(tokens):
                    continue
                token = tokens[i]
                if token is self._STAR or (token is self._PERCENT and char != DELIMITER):
                    step.add(i)
                elif token == char:
                    step.add(i + 1)
            if not step:
                return False
            states = self._closure(step)
        return len(tokens) in states


def _compile(pattern: str) -> _Glob:
    return _Glob(pattern)


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
