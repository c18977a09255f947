"""One line (with its literals) -> one immutable command object, or the reason it is not one.

Handlers only ever see these objects; they never touch the bytes the client
sent. Adding a command means: a dataclass here, an argument parser in
:data:`ARGUMENT_PARSERS`, and a handler in the dispatch table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mailserver.imap.parser import extensions as ext
from mailserver.imap.parser.append import Append as Append  # re-exported
from mailserver.imap.parser.append import AppendMessage as AppendMessage  # re-exported
from mailserver.imap.parser.append import parse_append
from mailserver.imap.parser.base import Command
from mailserver.imap.parser.base import NoArguments as NoArguments  # re-exported
from mailserver.imap.parser.condstore import (
    SelectParams,
    parse_fetch_modifiers,
    parse_select_params,
    parse_store_modifiers,
)
from mailserver.imap.parser.context import parse_cancelupdate
from mailserver.imap.parser.create import CreateSpecialUse, parse_create_params
from mailserver.imap.parser.extensions import ListCommand as ListCommand  # re-exported
from mailserver.imap.parser.fetch_items import FetchItem, parse_fetch_items
from mailserver.imap.parser.lexer import BadMailboxName, Cursor, ParseError, is_atom_char
from mailserver.imap.parser.notify import parse_notify
from mailserver.imap.parser.quota import parse_quota_root, parse_setquota_list
from mailserver.imap.parser.returns import parse_returns
from mailserver.imap.parser.search_keys import BadCharset, SearchKey, parse_search
from mailserver.imap.parser.sequence import SequenceSet, parse_sequence_set
from mailserver.imap.parser.sort import parse_sort, parse_thread
from mailserver.imap.parser.urlauth import parse_genurlauth, parse_resetkey, parse_urlfetch

STATUS_ITEMS = frozenset(
    {
        "MESSAGES",
        "RECENT",
        "UIDNEXT",
        "UIDVALIDITY",
        "UNSEEN",
        "HIGHESTMODSEQ",  # RFC 7162 3.1.6
        "DELETED",  # RFC 9208 4.3
        "DELETED-STORAGE",
        "SIZE",  # RFC 8438
        "MAILBOXID",  # RFC 8474
    }
)
SYSTEM_FLAGS = {f.lower(): f for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")}
RECENT_FLAG = "\\Recent"


@dataclass(frozen=True)
class Login(Command):
    user: str
    password: str


@dataclass(frozen=True)
class Authenticate(Command):
    mechanism: str
    #: SASL-IR (RFC 4959) initial response, still base64; None if absent.
    initial: str | None = None


@dataclass(frozen=True)
class MailboxCommand(Command):
    """SELECT, EXAMINE, CREATE, DELETE, SUBSCRIBE, UNSUBSCRIBE."""

    mailbox: str


@dataclass(frozen=True)
class Select(MailboxCommand):
    """SELECT and EXAMINE with their RFC 7162 parameters (CONDSTORE, QRESYNC)."""

    params: SelectParams = field(default_factory=SelectParams)


@dataclass(frozen=True)
class Rename(Command):
    old: str
    new: str


@dataclass(frozen=True)
class Status(Command):
    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Search(Command):
    uid: bool
    charset: str
    key: SearchKey
    #: ESEARCH ``RETURN (...)`` options (RFC 4731); None for a classic SEARCH.
    returns: tuple[str, ...] | None = None
    #: ``RETURN (PARTIAL low:high)`` (RFC 5267 4.4).
    partial: tuple[int, int] | None = None


@dataclass(frozen=True)
class Fetch(Command):
    uid: bool
    sequence: SequenceSet
    items: tuple[FetchItem, ...]
    #: RFC 7162 CHANGEDSINCE / VANISHED fetch modifiers.
    changed_since: int | None = None
    vanished: bool = False


@dataclass(frozen=True)
class Store(Command):
    uid: bool
    sequence: SequenceSet
    mode: str  # "replace" | "add" | "remove"
    silent: bool
    flags: tuple[str, ...]
    #: RFC 7162 UNCHANGEDSINCE store modifier.
    unchanged_since: int | None = None


@dataclass(frozen=True)
class Copy(Command):
    uid: bool
    sequence: SequenceSet
    mailbox: str


@dataclass(frozen=True)
class QuotaRoot(Command):
    """GETQUOTA (RFC 9208 4.2): a quota root name, not a mailbox."""

    root: str


@dataclass(frozen=True)
class SetQuota(Command):
    root: str
    resources: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class InvalidCommand:
    """Not a command we can run: ``<tag> BAD <reason>`` (or ``* BAD`` without a tag)."""

    tag: str | None
    name: str | None
    reason: str
    status: str = "BAD"
    code: str | None = None


ParsedCommand = Command | InvalidCommand
ArgumentParser = Callable[[Cursor, str, str, bool], Command]

# ------------------------------------------------------------ arguments


def _none(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    cursor.end()
    return NoArguments(tag, name)


def _login(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    cursor.sp()
    user = cursor.astring("user name")
    cursor.sp()
    password = cursor.astring("password")
    cursor.end()
    return Login(tag, name, _utf8(user), _utf8(password))


def _authenticate(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    cursor.sp()
    mechanism = cursor.atom("mechanism").upper()
    initial = None
    if cursor.take(b" "):
        initial = cursor.chars_while(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
        )
        if not initial:
            raise ParseError("Invalid initial response")
    cursor.end()
    return Authenticate(tag, name, mechanism, initial)


def _mailbox(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    cursor.sp()
    mailbox = cursor.mailbox()
    cursor.end()
    return MailboxCommand(tag, name, mailbox)


def _create(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    cursor.sp()
    mailbox = cursor.mailbox()
    uses = parse_create_params(cursor)  # CREATE-SPECIAL-USE (RFC 6154 3)
    cursor.end()
    if uses:
        return CreateSpecialUse(tag, name, mailbox, uses)
    return MailboxCommand(tag, name, mailbox)


def _select(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    cursor.sp()
    mailbox = cursor.mailbox()
    params = parse_select_params(cursor)
    cursor.end()
    return Select(tag, name, mailbox, params)


def _rename(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    cursor.sp()
    old = cursor.mailbox()
    cursor.sp()
    new = cursor.mailbox()
    cursor.end()
    return Rename(tag, name, old, new)


def _list(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    return ext.parse_list(cursor, tag, name, STATUS_ITEMS, _utf8)


def _status(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    cursor.sp()
    mailbox = cursor.mailbox()
    cursor.sp()
    cursor.expect(b"(", "'(' before status items")
    items = [cursor.atom("status item").upper()]
    while cursor.take(b" "):
        items.append(cursor.atom("status item").upper())
    cursor.expect(b")", "')' after status items")
    cursor.end()
    for item in items:
        if item not in STATUS_ITEMS:
            raise ParseError(f"Unknown status item {item}")
    return Status(tag, name, mailbox, tuple(items))


def _append(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    return parse_append(cursor, tag, name, parse_flag_list)


def _search(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    cursor.sp()
    returns = parse_returns(cursor)
    charset, key = parse_search(cursor)
    if returns is None:
        return Search(tag, name, uid, charset, key)
    return Search(tag, name, uid, charset, key, returns.options, returns.partial)


def _fetch(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    cursor.sp()
    sequence = parse_sequence_set(cursor)
    cursor.sp()
    items = parse_fetch_items(cursor)
    modifiers = parse_fetch_modifiers(cursor)
    cursor.end()
    return Fetch(tag, name, uid, sequence, items, modifiers.changed_since, modifiers.vanished)


def _store(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    cursor.sp()
    sequence = parse_sequence_set(cursor)
    cursor.sp()
    unchanged_since = parse_store_modifiers(cursor)
    mode = "replace"
    if cursor.take(b"+"):
        mode = "add"
    elif cursor.take(b"-"):
        mode = "remove"
    if not cursor.take(b"FLAGS"):
        raise ParseError("Expected FLAGS, +FLAGS or -FLAGS")
    silent = cursor.take(b".SILENT")
    cursor.sp()
    if cursor.peek_is(b"("):
        flags = parse_flag_list(cursor)
    else:
        items = [_flag(cursor)]
        while cursor.take(b" "):
            items.append(_flag(cursor))
        flags = tuple(items)
    cursor.end()
    return Store(tag, name, uid, sequence, mode, silent, flags, unchanged_since)


def _expunge(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    return ext.parse_uid_expunge(cursor, tag, name, uid) if uid else _none(cursor, tag, name, uid)


def _copy(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    cursor.sp()
    sequence = parse_sequence_set(cursor)
    cursor.sp()
    mailbox = cursor.mailbox()
    cursor.end()
    return Copy(tag, name, uid, sequence, mailbox)


def _getquota(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    cursor.sp()
    root = parse_quota_root(cursor)
    cursor.end()
    return QuotaRoot(tag, name, root)


def _setquota(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    cursor.sp()
    root = parse_quota_root(cursor)
    cursor.sp()
    resources = parse_setquota_list(cursor)
    cursor.end()
    return SetQuota(tag, name, root, resources)


ARGUMENT_PARSERS: dict[str, ArgumentParser] = {
    "CAPABILITY": _none,
    "NOOP": _none,
    "LOGOUT": _none,
    "CHECK": _none,
    "CLOSE": _none,
    "EXPUNGE": _expunge,
    "STARTTLS": _none,
    "LOGIN": _login,
    "AUTHENTICATE": _authenticate,
    "SELECT": _select,
    "EXAMINE": _select,
    "CREATE": _create,
    "DELETE": _mailbox,
    "SUBSCRIBE": _mailbox,
    "UNSUBSCRIBE": _mailbox,
    "RENAME": _rename,
    "LIST": _list,
    "LSUB": _list,
    "STATUS": _status,
    "APPEND": _append,
    "SEARCH": _search,
    "FETCH": _fetch,
    "STORE": _store,
    "COPY": _copy,
    "MOVE": _copy,
    "UNSELECT": _none,
    "IDLE": _none,
    "NAMESPACE": _none,
    "ENABLE": ext.parse_enable,
    "ID": ext.parse_id,
    "GETQUOTA": _getquota,
    "GETQUOTAROOT": _mailbox,
    "SETQUOTA": _setquota,
    "SORT": parse_sort,
    "THREAD": parse_thread,
    "CANCELUPDATE": parse_cancelupdate,
    "NOTIFY": parse_notify,
    "GENURLAUTH": parse_genurlauth,
    "RESETKEY": parse_resetkey,
    "URLFETCH": parse_urlfetch,
}
#: Commands that have a ``UID`` form; the command name becomes e.g. ``UID FETCH``.
UID_COMMANDS = frozenset({"FETCH", "STORE", "COPY", "SEARCH", "MOVE", "EXPUNGE", "SORT", "THREAD"})

# -------------------------------------------------------------- helpers


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("String is not valid UTF-8") from None


def _flag(cursor: Cursor) -> str:
    """``flag``: a system flag (``\\Seen``) or a keyword atom."""
    backslash = cursor.take(b"\\")
    name = cursor.atom("flag")
    if not backslash:
        return name
    flag = "\\" + name
    if flag.lower() == RECENT_FLAG.lower():
        return RECENT_FLAG
    system = SYSTEM_FLAGS.get(flag.lower())
    if system is None:
        raise ParseError(f"Invalid system flag {flag}")
    return system


def parse_flag_list(cursor: Cursor) -> tuple[str, ...]:
    """``"(" [flag *(SP flag)] ")"``."""
    cursor.expect(b"(", "'(' before flags")
    flags: list[str] = []
    if not cursor.take(b")"):
        flags.append(_flag(cursor))
        while cursor.take(b" "):
            flags.append(_flag(cursor))
        cursor.expect(b")", "')' after flags")
    return tuple(flags)


def _tag(cursor: Cursor) -> str:
    start = cursor.pos
    while not cursor.at_end():
        byte = cursor.data[cursor.pos]
        if not (is_atom_char(byte) or byte == ord("]")) or byte == ord("+"):
            break
        cursor.pos += 1
    return cursor.data[start : cursor.pos].decode("ascii")


def _missing_tag(tag: str) -> InvalidCommand | None:
    """``login group1_2 group1_2`` typed in telnet: the "tag" is a command name and
    what follows is no command, so the tag was forgotten. Say so, untagged (the
    client has no tag to wait for), instead of "login BAD Unknown command"."""
    verb = tag.upper()
    if verb not in ARGUMENT_PARSERS and verb != "UID":
        return None
    reason = f"Missing tag: every command starts with a tag, e.g. a1 {verb} ..."
    return InvalidCommand(None, None, reason)


def parse_command(data: bytes, utf8_names: bool = False) -> ParsedCommand:
    """Parse one complete command (first line, literals and continuation lines).

    ``utf8_names``: the client ENABLEd UTF8=ACCEPT, so mailbox names are
    UTF-8 as sent rather than modified UTF-7 (RFC 6855 3).
    """
    cursor = Cursor(data, utf8_names=utf8_names)
    tag = _tag(cursor)
    if not tag:
        reason = "Empty command line" if cursor.at_end() else "Invalid tag"
        return InvalidCommand(None, None, reason)
    if not cursor.take(b" ") or cursor.at_end():
        return _missing_tag(tag) or InvalidCommand(tag, None, "Missing command")
    try:
        verb = cursor.atom("command").upper()
    except ParseError as exc:
        return _missing_tag(tag) or InvalidCommand(tag, None, exc.reason)
    uid = False
    name = verb
    if verb == "UID":
        if not cursor.take(b" "):
            return InvalidCommand(tag, "UID", "Missing UID command")
        try:
            verb = cursor.atom("command").upper()
        except ParseError as exc:
            return InvalidCommand(tag, "UID", exc.reason)
        if verb not in UID_COMMANDS:
            return InvalidCommand(tag, "UID", f"Unknown UID command {verb}"[:80])
        uid = True
        name = "UID " + verb
    parser = ARGUMENT_PARSERS.get(verb)
    if parser is None:
        return _missing_tag(tag) or InvalidCommand(tag, None, "Unknown command")
    try:
        return parser(cursor, tag, name, uid)
    except BadCharset as exc:
        return InvalidCommand(tag, name, exc.reason, "NO", "BADCHARSET (US-ASCII UTF-8)")
    except BadMailboxName as exc:
        return InvalidCommand(tag, name, exc.reason, "NO")
    except ParseError as exc:
        # Reasons may quote a client's word; keep the reply line short.
        return InvalidCommand(tag, name, exc.reason[:100])
