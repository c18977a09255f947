"""SEARCH criteria (RFC 3501 6.4.4) as a small tree of immutable keys.

Strings stay ``bytes`` until the charset named in the command is known; the
parser decodes them once so the evaluator only compares text.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from mailserver.imap.parser.condstore import mod_sequence
from mailserver.imap.parser.lexer import Cursor, ParseError
from mailserver.imap.parser.sequence import SequenceSet, parse_sequence_set
from mailserver.imap.wire import parse_imap_date

#: Nesting deeper than this is refused: bounded recursion for hostile input.
MAX_DEPTH = 50


@dataclass(frozen=True)
class All:
    pass


@dataclass(frozen=True)
class HasFlag:
    """``SEEN`` / ``UNSEEN`` / ``KEYWORD x`` ...: ``present`` False for the UN- forms."""

    flag: str
    present: bool = True


@dataclass(frozen=True)
class Recent:
    pass


@dataclass(frozen=True)
class InSet:
    """A bare sequence set, or ``UID`` set when ``uid``."""

    sequence: SequenceSet
    uid: bool = False


@dataclass(frozen=True)
class DateKey:
    """``BEFORE/ON/SINCE`` (internal date) or ``SENT*`` (Date: header)."""

    op: str  # "before" | "on" | "since"
    date: datetime.date
    sent: bool = False
    #: ``SAVED*`` (RFC 8514): the save date, or the internal date where there is none.
    saved: bool = False


@dataclass(frozen=True)
class AgeKey:
    """WITHIN (RFC 5032): ``OLDER n`` / ``YOUNGER n``, internal date relative to now.

    As Dovecot: OLDER matches an internal date at least ``seconds`` ago,
    YOUNGER one less than ``seconds`` ago (the two never overlap).
    """

    older: bool
    seconds: int


@dataclass(frozen=True)
class SizeKey:
    larger: bool
    size: int


@dataclass(frozen=True)
class HeaderKey:
    """``HEADER name text``; FROM/TO/CC/BCC/SUBJECT are shorthands for it."""

    field: str
    needle: str


@dataclass(frozen=True)
class BodyKey:
    needle: str


@dataclass(frozen=True)
class TextKey:
    needle: str


@dataclass(frozen=True)
class ModSeqKey:
    """RFC 7162 3.1.5 ``MODSEQ [entry-name entry-type] n``: mod-sequence at least ``n``.

    We keep one mod-sequence per message, so the optional per-flag entry
    name and type are parsed and ignored, as RFC 7162 permits.
    """

    modseq: int


@dataclass(frozen=True)
class ObjectIdKey:
    """OBJECTID (RFC 8474 6): ``EMAILID id`` / ``THREADID id``."""

    kind: str  # "EMAILID" | "THREADID"
    value: str


@dataclass(frozen=True)
class Not:
    key: SearchKey


@dataclass(frozen=True)
class Or:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True)
class And:
    keys: tuple[SearchKey, ...]


SearchKey = (
    All
    | HasFlag
    | Recent
    | InSet
    | DateKey
    | SizeKey
    | AgeKey
    | HeaderKey
    | BodyKey
    | TextKey
    | ModSeqKey
    | ObjectIdKey
    | Not
    | Or
    | And
)

_FLAG_KEYS: dict[str, HasFlag] = {
    "ANSWERED": HasFlag("\\Answered"),
    "DELETED": HasFlag("\\Deleted"),
    "DRAFT": HasFlag("\\Draft"),
    "FLAGGED": HasFlag("\\Flagged"),
    "SEEN": HasFlag("\\Seen"),
    "UNANSWERED": HasFlag("\\Answered", False),
    "UNDELETED": HasFlag("\\Deleted", False),
    "UNDRAFT": HasFlag("\\Draft", False),
    "UNFLAGGED": HasFlag("\\Flagged", False),
    "UNSEEN": HasFlag("\\Seen", False),
}
_HEADER_SHORTHANDS = ("BCC", "CC", "FROM", "SUBJECT", "TO")
_DATE_OPS = {
    "BEFORE": ("before", False),
    "ON": ("on", False),
    "SINCE": ("since", False),
    "SENTBEFORE": ("before", True),
    "SENTON": ("on", True),
    "SENTSINCE": ("since", True),
}
_SAVED_OPS = {"SAVEDBEFORE": "before", "SAVEDON": "on", "SAVEDSINCE": "since"}
SUPPORTED_CHARSETS = frozenset({"UTF-8", "US-ASCII"})


class BadCharset(ParseError):
    """``NO [BADCHARSET]`` rather than ``BAD``: the syntax was fine."""


class SearchParser:
    def __init__(self, cursor: Cursor, charset: str = "UTF-8") -> None:
        self.cursor = cursor
        self.charset = charset

    def program(self) -> SearchKey:
        """``search-key *(SP search-key)`` up to the end of the command."""
        keys = [self.key(0)]
        while self.cursor.take(b" "):
            keys.append(self.key(0))
        self.cursor.end()
        return keys[0] if len(keys) == 1 else And(tuple(keys))

    def text(self) -> str:
        raw = self.cursor.astring("search string")
        return raw.decode("utf-8", "replace")

    def key(self, depth: int) -> SearchKey:
        if depth > MAX_DEPTH:
            raise ParseError("Search criteria nested too deeply")
        cursor = self.cursor
        if cursor.take(b"("):
            keys = [self.key(depth + 1)]
            while cursor.take(b" "):
                keys.append(self.key(depth + 1))
            cursor.expect(b")", "')' after search criteria")
            return keys[0] if len(keys) == 1 else And(tuple(keys))
        byte = cursor.peek()
        if byte is not None and (0x30 <= byte <= 0x39 or byte in b"*$"):
            return InSet(parse_sequence_set(cursor))
        name = cursor.atom("search key").upper()
        if name == "ALL":
            return All()
        if name in _FLAG_KEYS:
            return _FLAG_KEYS[name]
        if name == "RECENT":
            return Recent()
        if name == "NEW":
            return And((Recent(), HasFlag("\\Seen", False)))
        if name == "OLD":
            return Not(Recent())
        if name in ("KEYWORD", "UNKEYWORD"):
            cursor.sp()
            return HasFlag(cursor.atom("keyword"), name == "KEYWORD")
        if name in _HEADER_SHORTHANDS:
            cursor.sp()
            return HeaderKey(name, self.text())
        if name == "HEADER":
            cursor.sp()
            field = cursor.astring("header field name").decode("ascii", "replace")
            cursor.sp()
            return HeaderKey(field.upper(), self.text())
        if name == "BODY":
            cursor.sp()
            return BodyKey(self.text())
        if name == "TEXT":
            cursor.sp()
            return TextKey(self.text())
        if name in _SAVED_OPS:
            cursor.sp()
            return DateKey(_SAVED_OPS[name], self.date(), saved=True)
        if name == "SAVEDATESUPPORTED":
            return All()  # RFC 8514: every mailbox of ours has save dates
        if name in _DATE_OPS:
            cursor.sp()
            op, sent = _DATE_OPS[name]
            return DateKey(op, self.date(), sent)
        if name in ("LARGER", "SMALLER"):
            cursor.sp()
            return SizeKey(name == "LARGER", cursor.number())
        if name in ("EMAILID", "THREADID"):
            cursor.sp()
            return ObjectIdKey(name, cursor.atom("object id"))
        if name in ("OLDER", "YOUNGER"):
            cursor.sp()
            return AgeKey(name == "OLDER", cursor.nz_number())
        if name == "UID":
            cursor.sp()
            return InSet(parse_sequence_set(cursor), uid=True)
        if name == "MODSEQ":
            cursor.sp()
            if cursor.peek_is(b'"'):
                cursor.quoted()  # entry-name, e.g. "/flags/\\draft"
                cursor.sp()
                entry_type = cursor.atom("entry type").lower()
                if entry_type not in ("priv", "shared", "all"):
                    raise ParseError("Invalid MODSEQ entry type")
                cursor.sp()
            return ModSeqKey(mod_sequence(cursor))
        if name == "NOT":
            cursor.sp()
            return Not(self.key(depth + 1))
        if name == "OR":
            cursor.sp()
            left = self.key(depth + 1)
            cursor.sp()
            return Or(left, self.key(depth + 1))
        raise ParseError(f"Unknown search key {name}")

    def date(self) -> datetime.date:
        quoted = self.cursor.peek_is(b'"')
        text = self.cursor.quoted() if quoted else self.cursor.atom("date").encode()
        try:
            return parse_imap_date(text.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise ParseError("Invalid date") from None


def parse_search(cursor: Cursor) -> tuple[str, SearchKey]:
    """``["CHARSET" SP astring SP] search-key *(SP search-key)``; returns (charset, key)."""
    charset = "US-ASCII"
    start = cursor.pos
    if cursor.take(b"CHARSET "):
        charset = cursor.astring("charset").decode("ascii", "replace").upper()
        if charset not in SUPPORTED_CHARSETS:
            raise BadCharset("Unsupported charset")
        cursor.sp()
    else:
        cursor.pos = start
    return charset, SearchParser(cursor, charset).program()
