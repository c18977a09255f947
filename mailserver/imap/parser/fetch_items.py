"""FETCH data items (RFC 3501 6.4.5): names, ``BODY[section]<partial>`` and the macros."""

from __future__ import annotations

from dataclasses import dataclass

from mailserver.imap.mime.section import Section
from mailserver.imap.parser.binary import BINARY_ITEMS, BinarySection, parse_binary_item
from mailserver.imap.parser.lexer import Cursor, ParseError, is_atom_char

SIMPLE_ITEMS = frozenset(
    {
        "BODY",
        "BODYSTRUCTURE",
        "ENVELOPE",
        "FLAGS",
        "INTERNALDATE",
        "MODSEQ",  # RFC 7162 3.1.4.1
        "RFC822",
        "RFC822.HEADER",
        "RFC822.SIZE",
        "RFC822.TEXT",
        "UID",
        "PREVIEW",  # RFC 8970
        "SAVEDATE",  # RFC 8514
        "EMAILID",  # RFC 8474
        "THREADID",
    }
)
MACROS: dict[str, tuple[str, ...]] = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_SECTION_TEXTS = ("HEADER.FIELDS.NOT", "HEADER.FIELDS", "HEADER", "TEXT", "MIME")
#: Items whose data may make the server set ``\\Seen`` (RFC 3501 6.4.5).
SETS_SEEN = frozenset({"RFC822", "RFC822.TEXT"})


@dataclass(frozen=True)
class FetchAttribute:
    """A plain item such as ``FLAGS`` or ``RFC822.SIZE``."""

    name: str


@dataclass(frozen=True)
class BodySection:
    """``BODY[section]<start.count>`` or its ``BODY.PEEK`` form."""

    section: Section
    peek: bool = False
    partial: tuple[int, int] | None = None


FetchItem = FetchAttribute | BodySection | BinarySection


def parse_fetch_items(cursor: Cursor) -> tuple[FetchItem, ...]:
    """``"ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP fetch-att) ")"``."""
    if cursor.take(b"("):
        items = [_fetch_att(cursor)]
        while cursor.take(b" "):
            items.append(_fetch_att(cursor))
        cursor.expect(b")", "')' after fetch items")
        return tuple(items)
    start = cursor.pos
    name = _item_name(cursor)
    if name in MACROS:
        return tuple(FetchAttribute(n) for n in MACROS[name])
    cursor.pos = start
    return (_fetch_att(cursor),)


def _item_name(cursor: Cursor) -> str:
    name = cursor.chars_while(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.")
    if not name:
        raise ParseError("Missing fetch item" if cursor.at_end() else "Invalid fetch item")
    return name.upper()


def _fetch_att(cursor: Cursor) -> FetchItem:
    name = _item_name(cursor)
    if name in ("BODY", "BODY.PEEK") and cursor.peek_is(b"["):
        section = parse_section(cursor)
        partial = _partial(cursor)
        return BodySection(section, peek=name == "BODY.PEEK", partial=partial)
    if name in ("PREVIEW", "SNIPPET"):
        return _preview(cursor, name)
    if name in SIMPLE_ITEMS:
        return FetchAttribute(name)
    if name in BINARY_ITEMS and cursor.peek_is(b"["):
        return parse_binary_item(cursor, name)  # RFC 3516
    raise ParseError(f"Unknown fetch item {name}")


def _preview(cursor: Cursor, name: str) -> FetchAttribute:
    """``PREVIEW [(LAZY)]`` (RFC 8970), and the draft forms Dovecot also answers,
    ``PREVIEW (FUZZY)`` and ``SNIPPET [(FUZZY)]``: those come back as
    ``PREVIEW (FUZZY "text")``, so their items are named ``PREVIEW (FUZZY)`` and
    ``SNIPPET (FUZZY)``."""
    modifiers: set[str] = set()
    if cursor.take(b" ("):
        while True:
            modifier = cursor.atom("preview modifier").upper()
            if modifier not in ("LAZY", "FUZZY") or (name == "SNIPPET" and modifier == "LAZY"):
                raise ParseError("Unknown preview modifier")
            modifiers.add(modifier)
            if cursor.take(b")"):
                break
            cursor.sp()
    if name == "SNIPPET" or "FUZZY" in modifiers:
        return FetchAttribute(f"{name} (FUZZY)")
    return FetchAttribute("PREVIEW")


def parse_section(cursor: Cursor) -> Section:
    """``"[" [section-spec] "]"`` with part numbers, HEADER[.FIELDS[.NOT]], TEXT, MIME."""
    cursor.expect(b"[")
    parts: list[int] = []
    text: str | None = None
    fields: tuple[str, ...] = ()
    if not cursor.peek_is(b"]"):
        if _digit_next(cursor):
            parts.append(cursor.nz_number())
            while cursor.take(b"."):
                if not _digit_next(cursor):
                    text = _section_text(cursor, after_part=True)
                    break
                parts.append(cursor.nz_number())
        else:
            text = _section_text(cursor, after_part=False)
        if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
            cursor.sp()
            fields = _header_list(cursor)
    cursor.expect(b"]", "']' after section")
    return Section(part=tuple(parts), text=text, fields=fields)


def _digit_next(cursor: Cursor) -> bool:
    byte = cursor.peek()
    return byte is not None and 0x30 <= byte <= 0x39


def _section_text(cursor: Cursor, after_part: bool) -> str:
    for candidate in _SECTION_TEXTS:
        if cursor.take(candidate.encode()):
            if candidate == "MIME" and not after_part:
                raise ParseError("MIME needs a part number")
            return candidate
    raise ParseError("Invalid section")


def _header_list(cursor: Cursor) -> tuple[str, ...]:
    cursor.expect(b"(", "'(' before header field names")
    names = [_field_name(cursor)]
    while cursor.take(b" "):
        names.append(_field_name(cursor))
    cursor.expect(b")", "')' after header field names")
    return tuple(names)


def _field_name(cursor: Cursor) -> str:
    """A header field name, echoed as an atom in the FETCH response: so only atom
    characters (no ':'), even when sent as a quoted string or literal. A
    literal holding CR LF would otherwise be written into our response
    (found by the socket fuzz, tests/dialogue/test_imap_fuzz.py)."""
    raw = cursor.astring("header field name")
    if not all(is_atom_char(byte) and byte != ord(":") for byte in raw):
        raise ParseError("Invalid header field name")
    return raw.decode("ascii").upper()


def _partial(cursor: Cursor) -> tuple[int, int] | None:
    if not cursor.take(b"<"):
        return None
    start = cursor.number()
    cursor.expect(b".", "'.' in partial range")
    count = cursor.nz_number()
    cursor.expect(b">", "'>' after partial range")
    return start, count
