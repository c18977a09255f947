"""CATENATE (RFC 4469): a message built from literals and IMAP URLs of messages
(or parts of them) the same user already has, so a client forwarding an
attachment or saving a draft never downloads and uploads it again.

A URL names a message by mailbox, UIDVALIDITY and UID (``imapurl.py`` parses
it); it must be the session user's own (a relative URL, or ``imap://user@...``
with the logged-in user). Anything that does not resolve is ``NO [BADURL url]``
(RFC 4469 6), a result larger than ``limits.max_message_size`` is
``NO [TOOBIG]``. URLAUTH-authorized URLs are not accepted (no URLAUTH yet).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from mailserver.imap.errors import ImapError, no
from mailserver.imap.mime import MessageCache
from mailserver.imap.mime.message import ParsedMessage
from mailserver.imap.mime.section import Section
from mailserver.imap.parser.append import CatenatePart
from mailserver.imap.parser.fetch_items import parse_section
from mailserver.imap.parser.lexer import Cursor, ParseError
from mailserver.imapurl import BadUrl, ImapUrl, parse_imap_url
from mailserver.storage import StorageError

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession


def bad_url(url: str) -> ImapError:
    # The code echoes the URL (RFC 4469 6) unless it could break the response line.
    safe = all(0x20 <= ord(c) < 0x7F for c in url) and "]" not in url and len(url) <= 500
    code = f"BADURL {url}" if safe else "BADURL"
    return no("Unable to resolve the URL", code)


async def build_message(session: ImapSession, parts: tuple[CatenatePart, ...]) -> bytes:
    """The parts joined in order; raises :class:`ImapError` for a bad URL or a message too big."""
    limit = session.config.limits.max_message_size
    pieces: list[bytes] = []
    size = 0
    for part in parts:
        if part.file is not None:
            # A large TEXT literal, spooled by the session; the limit is checked first.
            if size + part.file.size > limit:
                raise no("Message too large", "TOOBIG")
            data = await asyncio.to_thread(part.file.read_bytes)
        elif part.text is not None:
            data = part.text
        else:
            data = await fetch_url(session, part.url or "")
        size += len(data)
        if size > limit:
            raise no("Message too large", "TOOBIG")
        pieces.append(data)
    return b"".join(pieces)


async def fetch_url(session: ImapSession, text: str) -> bytes:
    """The octets an IMAP URL of this session's user names (RFC 5092 ``BODY.PEEK[...]``)."""
    try:
        url = parse_imap_url(text)
    except BadUrl:
        raise bad_url(text) from None
    if (url.user is not None and url.user != session.user) or url.rest:
        raise bad_url(text)
    assert session.mailbox is not None
    try:
        folder = await session.mailbox.folder(url.mailbox)
        snapshot = await folder.snapshot()
        info = snapshot.find(url.uid)
        if info is None or url.uidvalidity not in (None, snapshot.uidvalidity):
            raise bad_url(text)
        section = _section(url)
        if section is None:
            raise bad_url(text)
        data = await MessageCache.for_folder(folder).section(folder, info, section)
    except StorageError:
        raise bad_url(text) from None
    if url.partial is not None:
        start, length = url.partial
        data = data[start:] if length is None else data[start : start + length]
    return data


def extract_section(data: bytes, section: str) -> bytes | None:
    """``BODY[section]`` of a whole message, for URL resolution outside the cache."""
    cursor = Cursor(b"[" + section.encode("utf-8", "replace") + b"]")
    try:
        parsed = parse_section(cursor)
    except ParseError:
        return None
    if not cursor.at_end():
        return None
    return ParsedMessage.parse(data).section(data, parsed)


def _section(url: ImapUrl) -> Section | None:
    if url.section is None:
        return Section()
    cursor = Cursor(b"[" + url.section.encode("utf-8", "replace") + b"]")
    try:
        section = parse_section(cursor)
    except ParseError:
        return None
    return section if cursor.at_end() else None
