"""Grammar of CANCELUPDATE (RFC 5267 4.3.5): ``CANCELUPDATE SP tag-string *(SP tag-string)``."""

from __future__ import annotations

from dataclasses import dataclass

from mailserver.imap.parser.base import Command
from mailserver.imap.parser.lexer import Cursor, ParseError

#: More tags than a session can have contexts, many times over.
MAX_TAGS = 64


@dataclass(frozen=True)
class CancelUpdate(Command):
    tags: tuple[str, ...]


def parse_cancelupdate(cursor: Cursor, tag: str, name: str, uid: bool) -> CancelUpdate:
    """A tag-string is a string (quoted or literal) naming a searching command's tag."""
    tags: list[str] = []
    while cursor.take(b" "):
        tags.append(cursor.string().decode("utf-8", "replace"))
        if len(tags) > MAX_TAGS:
            raise ParseError("Too many tags")
    if not tags:
        raise ParseError("Missing tag")
    cursor.end()
    return CancelUpdate(tag, name, tuple(tags))
