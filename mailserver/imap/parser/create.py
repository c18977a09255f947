"""CREATE with RFC 4466 create-parameters, of which CREATE-SPECIAL-USE (RFC 6154 3)
defines one: ``CREATE MyDrafts (USE (\\Drafts))``."""

from __future__ import annotations

from dataclasses import dataclass

from mailserver.imap.parser.base import Command
from mailserver.imap.parser.lexer import Cursor, ParseError

#: More attributes than RFC 6154 defines, several times over.
MAX_USE_ATTRIBUTES = 16


@dataclass(frozen=True)
class CreateSpecialUse(Command):
    """CREATE with ``USE (...)``; a plain CREATE stays a ``MailboxCommand``."""

    mailbox: str
    #: Special-use attributes asked for (``\\Sent`` ...), as sent.
    uses: tuple[str, ...]


def parse_create_params(cursor: Cursor) -> tuple[str, ...]:
    """``[SP "(" "USE" SP "(" [use-attr *(SP use-attr)] ")" ")"]`` after the name."""
    uses: list[str] = []
    if not cursor.take(b" ("):
        return ()
    if not cursor.take(b"USE ("):
        raise ParseError("Unknown CREATE parameter")
    if not cursor.take(b")"):
        while True:
            cursor.expect(b"\\", "a special-use attribute")
            uses.append("\\" + cursor.atom("special-use attribute"))
            if len(uses) > MAX_USE_ATTRIBUTES:
                raise ParseError("Too many special-use attributes")
            if cursor.take(b")"):
                break
            cursor.sp()
    cursor.expect(b")", "')' after CREATE parameters")
    return tuple(uses)
