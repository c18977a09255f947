"""FETCH items of BINARY (RFC 3516 4.2): ``BINARY[part]<partial>``, ``BINARY.PEEK[...]``
and ``BINARY.SIZE[part]``. The section is part numbers only (``section-binary``):
HEADER, TEXT and MIME have no transfer encoding to undo."""

from __future__ import annotations

from dataclasses import dataclass

from mailserver.imap.parser.lexer import Cursor, ParseError

BINARY_ITEMS = frozenset({"BINARY", "BINARY.PEEK", "BINARY.SIZE"})


@dataclass(frozen=True)
class BinarySection:
    #: Part numbers (``1.2`` -> ``(1, 2)``); empty for the whole message.
    part: tuple[int, ...] = ()
    peek: bool = False
    #: ``BINARY.SIZE``: the decoded size only.
    size: bool = False
    partial: tuple[int, int] | None = None


def parse_binary_item(cursor: Cursor, name: str) -> BinarySection:
    """``name`` (one of :data:`BINARY_ITEMS`) is taken; ``"[" [section-part] "]"`` follows."""
    cursor.expect(b"[")
    parts: list[int] = []
    if not cursor.take(b"]"):
        parts.append(cursor.nz_number())
        while cursor.take(b"."):
            byte = cursor.peek()
            if byte is None or not 0x30 <= byte <= 0x39:
                raise ParseError("A BINARY section is part numbers only")
            parts.append(cursor.nz_number())
        cursor.expect(b"]", "']' after the BINARY section (part numbers only)")
    partial = None
    if name != "BINARY.SIZE" and cursor.take(b"<"):
        start = cursor.number()
        cursor.expect(b".", "'.' in partial range")
        count = cursor.nz_number()
        cursor.expect(b">", "'>' after partial range")
        partial = (start, count)
    if name not in BINARY_ITEMS:
        raise ParseError(f"Unknown fetch item {name}")
    return BinarySection(tuple(parts), peek=name == "BINARY.PEEK", size=name == "BINARY.SIZE",
                         partial=partial)  # fmt: skip
