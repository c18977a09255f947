"""Encoders for IMAP response data (RFC 3501 section 9) and the two date parsers.

Every string the server sends goes through one of these so that a value from
a message or a user (a subject with a quote, a header with 8-bit bytes, a
folder called ``NIL``) always comes out as syntactically valid IMAP: atom when
that is unambiguous, quoted string when the bytes allow it, literal otherwise.
"""

from __future__ import annotations

import calendar
import datetime
import re
import time
from collections.abc import Iterable
from typing import Final

MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER: Final = {name.lower(): number for number, name in enumerate(MONTHS, 1)}

# ATOM-CHAR: any CHAR except atom-specials "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]".
_ATOM: Final = re.compile(rb"[!#$&'+-Z^-z|}~\[]+")
# What a quoted string may hold: 7-bit, no CR, LF or NUL (TEXT-CHAR, RFC 3501 9).
_QUOTABLE: Final = re.compile(rb"[\x01-\x09\x0b\x0c\x0e-\x7f]*")
# utf8-quoted (RFC 6855 3): like quoted, plus 8-bit octets.
_UTF8_QUOTABLE: Final = re.compile(rb"[\x01-\x09\x0b\x0c\x0e-\xff]*")
# Values a client would read as something other than a string if sent as an atom.
_RESERVED_ATOMS: Final = frozenset({b"nil"})


def _as_bytes(value: str | bytes) -> bytes:
    # Non-ASCII text goes out as UTF-8 in a literal; surrogateescape keeps
    # undecodable header bytes that were carried through ``str`` intact.
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


def is_quotable(data: bytes) -> bool:
    return _QUOTABLE.fullmatch(data) is not None


def quoted(value: str | bytes) -> bytes:
    """``"..."`` with ``\\`` and ``"`` escaped; ValueError if the bytes cannot be quoted."""
    data = _as_bytes(value)
    if not is_quotable(data):
        raise ValueError("value needs a literal")
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def literal(data: bytes) -> bytes:
    return b"{%d}\r\n" % len(data) + data


def string(value: str | bytes) -> bytes:
    """IMAP ``string``: quoted when possible, else a literal."""
    data = _as_bytes(value)
    return quoted(data) if is_quotable(data) else literal(data)


def astring(value: str | bytes) -> bytes:
    data = _as_bytes(value)
    if _ATOM.fullmatch(data) and data.lower() not in _RESERVED_ATOMS:
        return data
    return string(data)


def nstring(value: str | bytes | None) -> bytes:
    return b"NIL" if value is None else string(value)


def sequence_set(numbers: Iterable[int]) -> bytes:
    """Numbers in any order as a compact RFC 3501 sequence-set: ``1:3,7,9:10``."""
    out: list[bytes] = []
    start = end = -2
    for n in sorted(set(numbers)):
        if n == end + 1:
            end = n
            continue
        if start >= 0:
            out.append(b"%d" % start if start == end else b"%d:%d" % (start, end))
        start = end = n
    if start >= 0:
        out.append(b"%d" % start if start == end else b"%d:%d" % (start, end))
    return b",".join(out)


def utf8_astring(value: str) -> bytes:
    """An astring for a client that ENABLEd UTF8=ACCEPT: 8-bit text may be quoted (RFC 6855 3)."""
    data = value.encode("utf-8", "surrogateescape")
    if _ATOM.fullmatch(data) and data.lower() not in _RESERVED_ATOMS:
        return data
    if _UTF8_QUOTABLE.fullmatch(data):
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return literal(data)


def flag_list(flags: Iterable[str]) -> bytes:
    return b"(" + b" ".join(flag.encode("ascii", "replace") for flag in flags) + b")"


def imap_date(epoch: float) -> bytes:
    """INTERNALDATE: ``"dd-Mon-yyyy hh:mm:ss +zzzz"`` in the server's local time zone.

    The month comes from a table, not ``strftime``, so a non-English locale
    cannot produce a date clients fail to parse. The day is always two digits
    (RFC 3501 ``date-day-fixed`` allows `` 5`` too, but strict parsers such as
    iOS Mail's expect ``05``).
    """
    local = time.localtime(epoch)
    offset = (local.tm_gmtoff or 0) // 60
    sign = "-" if offset < 0 else "+"
    offset = abs(offset)
    text = (
        f"{local.tm_mday:02d}-{MONTHS[local.tm_mon - 1]}-{local.tm_year:04d} "
        f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d} "
        f"{sign}{offset // 60:02d}{offset % 60:02d}"
    )
    return b'"' + text.encode("ascii") + b'"'


_DATE: Final = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})")
_DATE_TIME: Final = re.compile(
    r" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})"
)


def _month(name: str) -> int:
    try:
        return _MONTH_NUMBER[name.lower()]
    except KeyError:
        raise ValueError(f"unknown month {name!r}") from None


def _strip_quotes(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def parse_imap_date(text: str) -> datetime.date:
    """SEARCH ``date`` (``1-Feb-1994``); ValueError when malformed or impossible."""
    match = _DATE.fullmatch(_strip_quotes(text))
    if match is None:
        raise ValueError("malformed date")
    day, month, year = match.groups()
    return datetime.date(int(year), _month(month), int(day))


def parse_imap_date_time(text: str) -> float:
    """APPEND ``date-time`` (``17-Jul-1996 02:44:25 -0700``) -> seconds since the epoch."""
    match = _DATE_TIME.fullmatch(_strip_quotes(text))
    if match is None:
        raise ValueError("malformed date-time")
    day, month, year, hour, minute, second, sign, zh, zm = match.groups()
    if int(zm) > 59 or int(zh) > 23:
        raise ValueError("bad zone")
    moment = datetime.datetime(
        int(year), _month(month), int(day), int(hour), int(minute), int(second)
    )
    offset = (int(zh) * 60 + int(zm)) * 60 * (-1 if sign == "-" else 1)
    return calendar.timegm(moment.timetuple()) - offset
