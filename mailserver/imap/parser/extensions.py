"""Grammar of the IMAP extensions engineer A owns: ENABLE (RFC 5161), ID (RFC 2971),
UID EXPUNGE (RFC 4315), LIST-EXTENDED / LIST-STATUS / SPECIAL-USE (RFC 5258,
5819, 6154); ``SEARCH RETURN (...)`` is in ``returns.py``.

``commands.py`` maps verbs to these parsers; every list a client can send is
capped so a single command never builds an unbounded structure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from mailserver.imap.parser.base import Command
from mailserver.imap.parser.lexer import Cursor, ParseError
from mailserver.imap.parser.sequence import SequenceSet, parse_sequence_set

#: RFC 2971 3.3: at most 30 field/value pairs, fields up to 30 octets, values up to 1024.
MAX_ID_PAIRS = 30
MAX_ID_FIELD = 30
MAX_ID_VALUE = 1024
#: More names than any client needs in one ENABLE or one LIST.
MAX_ENABLE_NAMES = 16
MAX_LIST_PATTERNS = 32

LIST_SELECT_OPTIONS = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})
LIST_RETURN_OPTIONS = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS"})


@dataclass(frozen=True)
class Enable(Command):
    capabilities: tuple[str, ...]


@dataclass(frozen=True)
class Id(Command):
    """The client's identification; None for ``ID NIL``."""

    fields: tuple[tuple[str, str | None], ...] | None


@dataclass(frozen=True)
class UidExpunge(Command):
    sequence: SequenceSet


@dataclass(frozen=True)
class ListCommand(Command):
    """LIST (basic or extended) and LSUB; names stay as sent (modified UTF-7) until matched."""

    reference: str
    #: The first pattern; the basic form has exactly one.
    pattern: str
    patterns: tuple[str, ...] = ()
    selection: frozenset[str] = frozenset()
    returns: frozenset[str] = frozenset()
    #: STATUS items of ``RETURN (STATUS (...))`` (RFC 5819), in the client's order.
    status_items: tuple[str, ...] = ()
    #: Selection options or several patterns were given (RFC 5258 extended LIST).
    extended: bool = False


def parse_enable(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    names = []
    while cursor.take(b" "):
        names.append(cursor.atom("capability").upper())
        if len(names) > MAX_ENABLE_NAMES:
            raise ParseError("Too many capabilities")
    if not names:
        raise ParseError("Missing capability")
    cursor.end()
    return Enable(tag, name, tuple(names))


def parse_id(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    cursor.sp()
    if cursor.take(b"NIL"):
        cursor.end()
        return Id(tag, name, None)
    cursor.expect(b"(", "'(' or NIL")
    pairs: list[tuple[str, str | None]] = []
    if not cursor.take(b")"):
        while True:
            key = _text(cursor.string(), "field")[:MAX_ID_FIELD]
            cursor.sp()
            raw = cursor.nstring()
            value = None if raw is None else _text(raw, "value")[:MAX_ID_VALUE]
            pairs.append((key, value))
            if len(pairs) > MAX_ID_PAIRS:
                raise ParseError("Too many ID fields")
            if cursor.take(b")"):
                break
            cursor.sp()
    cursor.end()
    return Id(tag, name, tuple(pairs))


def parse_uid_expunge(cursor: Cursor, tag: str, name: str, uid: bool) -> UidExpunge:
    cursor.sp()
    sequence = parse_sequence_set(cursor)
    cursor.end()
    return UidExpunge(tag, name, sequence)


def parse_list(
    cursor: Cursor,
    tag: str,
    name: str,
    status_items: Iterable[str],
    decode: Callable[[bytes], str],
) -> ListCommand:
    """``LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]``.

    LSUB has only the RFC 3501 form. ``decode`` turns raw name bytes into
    text (UTF-8 check); ``status_items`` are the items STATUS accepts.
    """
    extended = name == "LIST"
    cursor.sp()
    selection: set[str] = set()
    if extended and cursor.peek_is(b"("):
        selection = _option_list(cursor, LIST_SELECT_OPTIONS, "selection option")
        cursor.sp()
        if "RECURSIVEMATCH" in selection and not selection - {"RECURSIVEMATCH", "REMOTE"}:
            raise ParseError("RECURSIVEMATCH needs another selection option")
    reference = cursor.astring("reference") if not cursor.peek_is(b" ") else b""
    cursor.sp()
    patterns: list[bytes] = []
    if extended and cursor.take(b"("):
        patterns.append(cursor.list_mailbox())
        while cursor.take(b" "):
            patterns.append(cursor.list_mailbox())
            if len(patterns) > MAX_LIST_PATTERNS:
                raise ParseError("Too many patterns")
        cursor.expect(b")", "')' after patterns")
        several = True
    else:
        patterns.append(cursor.list_mailbox())
        several = False
    returns: set[str] = set()
    items: tuple[str, ...] = ()
    if extended and cursor.take(b" RETURN "):
        returns, items = _return_options(cursor, frozenset(status_items))
    cursor.end()
    texts = tuple(decode(p) for p in patterns)
    return ListCommand(
        tag,
        name,
        decode(reference),
        texts[0],
        texts,
        frozenset(selection),
        frozenset(returns),
        items,
        extended=bool(selection) or several,
    )


def _option_list(cursor: Cursor, known: frozenset[str], what: str) -> set[str]:
    cursor.expect(b"(", f"'(' before {what}s")
    options: set[str] = set()
    if cursor.take(b")"):
        return options
    while True:
        option = cursor.atom(what).upper()
        if option not in known:
            raise ParseError(f"Unknown {what}")
        options.add(option)
        if cursor.take(b")"):
            return options
        cursor.sp()


def _return_options(
    cursor: Cursor, status_items: frozenset[str]
) -> tuple[set[str], tuple[str, ...]]:
    cursor.expect(b"(", "'(' after RETURN")
    options: set[str] = set()
    items: list[str] = []
    if cursor.take(b")"):
        return options, ()
    while True:
        option = cursor.atom("return option").upper()
        if option not in LIST_RETURN_OPTIONS:
            raise ParseError("Unknown return option")
        options.add(option)
        if option == "STATUS":
            cursor.sp()
            cursor.expect(b"(", "'(' before status items")
            while True:
                item = cursor.atom("status item").upper()
                if item not in status_items:
                    raise ParseError("Unknown status item")
                if item not in items:
                    items.append(item)
                if cursor.take(b")"):
                    break
                cursor.sp()
        if cursor.take(b")"):
            return options, tuple(items)
        cursor.sp()


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError(f"ID {what} is not valid UTF-8") from None
