"""RFC 9208 grammar: quota roots and SETQUOTA's resource list.

A quota root is an ``astring`` naming a root, not a mailbox, so it is not
decoded as modified UTF-7; our only root is ``""``.
"""

from __future__ import annotations

from mailserver.imap.parser.lexer import Cursor, ParseError

#: Resource names RFC 9208 5 defines; others are syntax errors only if malformed.
MAX_RESOURCES = 16


def parse_quota_root(cursor: Cursor) -> str:
    raw = cursor.astring("quota root")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("Quota root is not valid UTF-8") from None


def parse_setquota_list(cursor: Cursor) -> tuple[tuple[str, int], ...]:
    """``"(" [setquota-resource *(SP setquota-resource)] ")"``, resource = atom SP number64."""
    cursor.expect(b"(", "'(' before quota resources")
    resources: list[tuple[str, int]] = []
    if cursor.take(b")"):
        return ()
    while True:
        name = cursor.atom("resource name").upper()
        cursor.sp()
        digits = cursor.chars_while(b"0123456789")
        if not digits or len(digits) > 19:
            raise ParseError("Invalid resource limit")
        resources.append((name, int(digits)))
        if len(resources) > MAX_RESOURCES:
            raise ParseError("Too many quota resources")
        if cursor.take(b")"):
            return tuple(resources)
        cursor.sp()
