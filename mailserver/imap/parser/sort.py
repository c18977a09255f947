"""Grammar of SORT (RFC 5256, with RFC 5957's DISPLAY keys and RFC 5267's ESORT
``RETURN``) and THREAD (RFC 5256).

Unlike SEARCH, both name the charset of the search criteria up front, with
no ``CHARSET`` keyword: ``SORT (DATE) UTF-8 ALL``.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailserver.imap.parser.base import Command
from mailserver.imap.parser.lexer import Cursor, ParseError
from mailserver.imap.parser.returns import parse_returns
from mailserver.imap.parser.search_keys import (
    SUPPORTED_CHARSETS,
    BadCharset,
    SearchKey,
    SearchParser,
)

SORT_KEYS = frozenset(
    {"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}
)
THREAD_ALGORITHMS = ("ORDEREDSUBJECT", "REFERENCES", "REFS")
#: More sort keys than there are distinct ones (each may come with and without REVERSE).
MAX_SORT_KEYS = 2 * len(SORT_KEYS)


@dataclass(frozen=True)
class Sort(Command):
    uid: bool
    #: ``(key, reverse)``, most significant first.
    criteria: tuple[tuple[str, bool], ...]
    charset: str
    key: SearchKey
    #: ESORT ``RETURN (...)`` options; None for a plain ``* SORT`` answer.
    returns: tuple[str, ...] | None = None
    #: ``RETURN (PARTIAL low:high)``: positions in sort order (RFC 5267 4.4).
    partial: tuple[int, int] | None = None


@dataclass(frozen=True)
class Thread(Command):
    uid: bool
    algorithm: str
    charset: str
    key: SearchKey


def parse_sort(cursor: Cursor, tag: str, name: str, uid: bool) -> Sort:
    cursor.sp()
    returns = parse_returns(cursor)
    cursor.expect(b"(", "'(' before sort criteria")
    criteria: list[tuple[str, bool]] = []
    while True:
        reverse = cursor.take(b"REVERSE ")
        key = cursor.atom("sort key").upper()
        if key not in SORT_KEYS:
            raise ParseError("Unknown sort key")
        criteria.append((key, reverse))
        if len(criteria) > MAX_SORT_KEYS:
            raise ParseError("Too many sort keys")
        if cursor.take(b")"):
            break
        cursor.sp()
    cursor.sp()
    charset = _charset(cursor)
    program = _criteria(cursor, charset)
    if returns is None:
        return Sort(tag, name, uid, tuple(criteria), charset, program)
    return Sort(tag, name, uid, tuple(criteria), charset, program, returns.options, returns.partial)


def parse_thread(cursor: Cursor, tag: str, name: str, uid: bool) -> Thread:
    cursor.sp()
    algorithm = cursor.atom("threading algorithm").upper()
    if algorithm not in THREAD_ALGORITHMS:
        raise ParseError("Unknown threading algorithm")
    cursor.sp()
    charset = _charset(cursor)
    return Thread(tag, name, uid, algorithm, charset, _criteria(cursor, charset))


def _charset(cursor: Cursor) -> str:
    """The charset name; checked only once the whole command parsed (a syntax
    error is BAD even with an unknown charset, then ``NO [BADCHARSET]``)."""
    return cursor.astring("charset").decode("ascii", "replace").upper()


def _criteria(cursor: Cursor, charset: str) -> SearchKey:
    cursor.sp()
    key = SearchParser(cursor, charset).program()
    if charset not in SUPPORTED_CHARSETS:
        raise BadCharset("Unsupported charset")
    return key
