"""Commands of URLAUTH (RFC 4467 9): GENURLAUTH, RESETKEY and URLFETCH.

``GENURLAUTH url-rump SP mechanism *(SP url-rump SP mechanism)``,
``RESETKEY [SP mailbox *(SP mechanism)]``, ``URLFETCH url *(SP url)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailserver.imap.parser.base import Command
from mailserver.imap.parser.lexer import Cursor, ParseError

#: URLs in one command at most: each may mean reading a whole message.
MAX_URLS = 100


@dataclass(frozen=True)
class GenUrlAuth(Command):
    requests: tuple[tuple[str, str], ...]  # (url rump, mechanism)


@dataclass(frozen=True)
class ResetKey(Command):
    mailbox: str | None
    mechanisms: tuple[str, ...] = ()


@dataclass(frozen=True)
class UrlFetch(Command):
    urls: tuple[str, ...]


def _url(cursor: Cursor) -> str:
    try:
        return cursor.astring("URL").decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("URL is not UTF-8") from None


def parse_genurlauth(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    requests: list[tuple[str, str]] = []
    while cursor.take(b" "):
        if len(requests) >= MAX_URLS:
            raise ParseError("Too many URLs")
        rump = _url(cursor)
        cursor.sp()
        requests.append((rump, cursor.atom("mechanism").upper()))
    if not requests:
        raise ParseError("Missing argument")
    cursor.end()
    return GenUrlAuth(tag, name, tuple(requests))


def parse_resetkey(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    if not cursor.take(b" "):
        cursor.end()
        return ResetKey(tag, name, None)
    mailbox = cursor.mailbox()
    mechanisms: list[str] = []
    while cursor.take(b" "):
        mechanisms.append(cursor.atom("mechanism").upper())
    cursor.end()
    return ResetKey(tag, name, mailbox, tuple(mechanisms))


def parse_urlfetch(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    urls: list[str] = []
    while cursor.take(b" "):
        if len(urls) >= MAX_URLS:
            raise ParseError("Too many URLs")
        urls.append(_url(cursor))
    if not urls:
        raise ParseError("Missing argument")
    cursor.end()
    return UrlFetch(tag, name, tuple(urls))
