"""Sequence sets (RFC 3501 ``sequence-set``): ``1``, ``2:4``, ``4:2``, ``5:*``, lists.

A set is kept symbolic (``*`` unresolved) because what ``*`` means depends on
the mailbox at execution time: the highest sequence number, or the highest
UID for the UID commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from mailserver.imap.parser.lexer import Cursor, ParseError

#: ``None`` stands for ``*``.
SeqNumber = int | None


@dataclass(frozen=True)
class SequenceSet:
    ranges: tuple[tuple[SeqNumber, SeqNumber], ...]
    #: SEARCHRES ``$`` (RFC 5182): the session's saved search result, no ranges of its own.
    saved: bool = False

    def resolve(self, largest: int) -> list[tuple[int, int]]:
        """Ranges as ``(low, high)`` with ``*`` replaced by ``largest``."""
        out = []
        for first, last in self.ranges:
            a = largest if first is None else first
            b = largest if last is None else last
            out.append((min(a, b), max(a, b)))
        return out

    def contains(self, number: int, largest: int) -> bool:
        return any(low <= number <= high for low, high in self.resolve(largest))

    def numbers(self, largest: int) -> Iterator[int]:
        """Every number in the set up to ``largest``, ascending, without duplicates."""
        merged: list[list[int]] = []
        for low, high in sorted(self.resolve(largest)):
            high = min(high, largest)
            if low > high:
                continue
            if merged and low <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], high)
            else:
                merged.append([low, high])
        for low, high in merged:
            yield from range(low, high + 1)

    def max_explicit(self) -> int:
        """The largest number written in the set (``*`` not counted)."""
        return max((n for pair in self.ranges for n in pair if n is not None), default=0)

    def __str__(self) -> str:
        if self.saved:
            return "$"

        def one(n: SeqNumber) -> str:
            return "*" if n is None else str(n)

        return ",".join(one(a) if a == b else f"{one(a)}:{one(b)}" for a, b in self.ranges)


def _seq_number(cursor: Cursor) -> SeqNumber:
    if cursor.take(b"*"):
        return None
    try:
        return cursor.nz_number()
    except ParseError:
        raise ParseError("Invalid message sequence set") from None


def parse_sequence_set(cursor: Cursor) -> SequenceSet:
    """``sequence-set``, or SEARCHRES's ``$`` standing alone (RFC 5182 2.1)."""
    if cursor.take(b"$"):
        return SAVED
    ranges = []
    while True:
        first = _seq_number(cursor)
        last = _seq_number(cursor) if cursor.take(b":") else first
        ranges.append((first, last))
        if not cursor.take(b","):
            return SequenceSet(tuple(ranges))


SAVED = SequenceSet((), saved=True)


def sequence_set_from(text: str) -> SequenceSet:
    """Parse a whole string as a sequence set (for tests and callers with text)."""
    cursor = Cursor(text.encode("ascii"))
    result = parse_sequence_set(cursor)
    cursor.end()
    return result
