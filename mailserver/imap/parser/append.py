"""The APPEND grammar with its extensions: one message or several, each a literal,
a binary literal, or a list of parts to join.

- MULTIAPPEND (RFC 3502 6): ``APPEND mailbox 1*(SP [flag-list SP] [date-time SP]
  append-data)``; the messages are stored all or none by the handler.
- BINARY (RFC 3516 4.3): the data may be a ``literal8`` (``~{n}``), which may
  carry NUL octets and 8-bit content in any transfer encoding.
- CATENATE (RFC 4469 5): ``CATENATE (TEXT {n} URL "/INBOX;UIDVALIDITY=1/;UID=2" ...)``
  builds the message from literals and parts of messages the user already has.
- UTF8 (RFC 6855 4): ``UTF8 (~{n})``, a message with UTF-8 header fields.

Only the grammar is here; URL resolution and storing are the handler's
(``commands/append.py``, ``imap/catenate.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mailserver.imap.parser.base import Command
from mailserver.imap.parser.lexer import Cursor, ParseError
from mailserver.imap.wire import parse_imap_date_time
from mailserver.storage.spool import SpooledMessage

#: RFC 4469 5: a CATENATE list this long is abuse, not a message.
MAX_CATENATE_PARTS = 1000


@dataclass(frozen=True)
class CatenatePart:
    """``TEXT literal`` (``text`` set) or ``URL astring`` (``url`` set)."""

    text: bytes | None = None
    url: str | None = None
    #: A large TEXT literal the session read into a spool file (``text`` is then empty).
    file: SpooledMessage | None = None


@dataclass(frozen=True)
class AppendMessage:
    """One message of an APPEND: its flags, date and data."""

    flags: tuple[str, ...]
    internal_date: float | None
    #: The literal as sent; empty when the message is a CATENATE list.
    message: bytes
    #: Sent as ``~{n}`` (RFC 3516): NUL octets are part of the message, not an error.
    binary: bool = False
    catenate: tuple[CatenatePart, ...] = ()
    #: A message literal too large for memory, read into a spool file by the
    #: session (``imap.literals``); ``message`` is then empty.
    message_file: SpooledMessage | None = None


@dataclass(frozen=True)
class Append(Command):
    mailbox: str
    #: One message for a plain APPEND, several for MULTIAPPEND (RFC 3502).
    messages: tuple[AppendMessage, ...]


FlagListParser = Callable[[Cursor], tuple[str, ...]]


def parse_append(cursor: Cursor, tag: str, name: str, flag_list: FlagListParser) -> Append:
    cursor.sp()
    mailbox = cursor.mailbox()
    messages: list[AppendMessage] = []
    while True:
        cursor.sp()
        while messages and cursor.take(b" "):
            pass  # imapclient's multiappend sends two spaces before a message without flags
        messages.append(_message(cursor, flag_list))
        if cursor.at_end():
            return Append(tag, name, mailbox, tuple(messages))


def _message(cursor: Cursor, flag_list: FlagListParser) -> AppendMessage:
    flags: tuple[str, ...] = ()
    if cursor.peek_is(b"("):
        flags = flag_list(cursor)
        cursor.sp()
    internal_date = None
    if cursor.peek_is(b'"'):
        text = cursor.quoted().decode("ascii", "replace")
        try:
            internal_date = parse_imap_date_time(text)
        except ValueError:
            raise ParseError("Invalid date-time") from None
        cursor.sp()
    if cursor.take(b"UTF8 ("):
        # RFC 6855 4: the message may carry 8-bit headers; ours always may.
        if not cursor.peek_is(b"~"):
            raise ParseError("Expected ~{n} after UTF8 (")
        message = cursor.literal8()
        cursor.expect(b")", "')' after the message")
        return AppendMessage(flags, internal_date, message, binary=b"\x00" in message)
    if cursor.take(b"CATENATE ("):
        return AppendMessage(flags, internal_date, b"", catenate=_catenate_parts(cursor))
    if cursor.peek_is(b"~"):
        return AppendMessage(flags, internal_date, cursor.literal8(), binary=True)
    if not cursor.peek_is(b"{"):
        raise ParseError("Expected the message as a literal")
    return AppendMessage(flags, internal_date, cursor.literal())


def _catenate_parts(cursor: Cursor) -> tuple[CatenatePart, ...]:
    """``cat-part *(SP cat-part) ")"``, the opening parenthesis already taken."""
    parts = [_cat_part(cursor)]
    while cursor.take(b" "):
        if len(parts) >= MAX_CATENATE_PARTS:
            raise ParseError("Too many CATENATE parts")
        parts.append(_cat_part(cursor))
    cursor.expect(b")", "')' after the CATENATE parts")
    return tuple(parts)


def _cat_part(cursor: Cursor) -> CatenatePart:
    if cursor.take(b"TEXT "):
        # RFC 4469 5 with RFC 3516: a TEXT part may be a literal8 when BINARY is offered.
        text = cursor.literal8() if cursor.peek_is(b"~") else cursor.literal()
        return CatenatePart(text=text)
    if cursor.take(b"URL "):
        url = cursor.astring("URL").decode("utf-8", "replace")
        return CatenatePart(url=url)
    raise ParseError("Expected TEXT or URL in CATENATE")
