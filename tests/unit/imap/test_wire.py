"""IMAP wire encoders and date parsers (RFC 3501 section 9)."""

from __future__ import annotations

import datetime
import os
import time

import pytest

from mailserver.imap import wire


def test_quoted_escapes_backslash_and_quote() -> None:
    assert wire.quoted('a"b\\c') == b'"a\\"b\\\\c"'
    assert wire.quoted(b"") == b'""'


@pytest.mark.parametrize("value", [b"a\r\nb", b"a\nb", b"nul\x00", "caf\u00e9", b"\xff"])
def test_quoted_refuses_what_needs_a_literal(value: str | bytes) -> None:
    with pytest.raises(ValueError):
        wire.quoted(value)


def test_literal() -> None:
    assert wire.literal(b"") == b"{0}\r\n"
    assert wire.literal(b"ab\r\n") == b"{4}\r\nab\r\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("INBOX", b"INBOX"),
        ("Sent/2024", b"Sent/2024"),
        ("&AOQ-", b"&AOQ-"),
        ("", b'""'),
        ("a b", b'"a b"'),
        ("NIL", b'"NIL"'),
        ("nil", b'"nil"'),
        ("a*", b'"a*"'),
        ("a%", b'"a%"'),
        ("x(y)", b'"x(y)"'),
        ("brace{", b'"brace{"'),
        ("br]", b'"br]"'),
        ('q"', b'"q\\""'),
        ("caf\u00e9", b"{5}\r\ncaf\xc3\xa9"),
        (b"line\r\nbreak", b"{11}\r\nline\r\nbreak"),
    ],
)
def test_astring(value: str | bytes, expected: bytes) -> None:
    assert wire.astring(value) == expected


def test_nstring() -> None:
    assert wire.nstring(None) == b"NIL"
    assert wire.nstring("NIL") == b'"NIL"'
    assert wire.nstring("Hi there") == b'"Hi there"'
    assert wire.nstring(b"\xe4") == b"{1}\r\n\xe4"


def test_flag_list() -> None:
    assert wire.flag_list([]) == b"()"
    assert wire.flag_list(["\\Seen", "$Label1"]) == b"(\\Seen $Label1)"


@pytest.fixture
def timezone(request: pytest.FixtureRequest) -> object:
    """Run with TZ set to the parametrized zone, restoring the old one afterwards."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.mark.parametrize(
    ("timezone", "expected"),
    [
        ("UTC", b'"01-Jan-1970 00:00:00 +0000"'),
        ("Asia/Shanghai", b'"01-Jan-1970 08:00:00 +0800"'),
        ("America/New_York", b'"31-Dec-1969 19:00:00 -0500"'),
        ("Asia/Kolkata", b'"01-Jan-1970 05:30:00 +0530"'),
    ],
    indirect=["timezone"],
)
def test_imap_date_local_zone_and_padded_day(timezone: str, expected: bytes) -> None:
    assert wire.imap_date(0) == expected


@pytest.mark.parametrize("timezone", ["UTC", "Asia/Shanghai"], indirect=True)
def test_imap_date_round_trips_through_append_parser(timezone: str) -> None:
    moment = 837596665.0
    text = wire.imap_date(moment).decode()[1:-1]
    assert wire.parse_imap_date_time(text) == moment


def test_parse_date_time_rfc_example() -> None:
    # RFC 3501 6.3.11: 7-Feb-1994 21:52:25 -0800
    assert wire.parse_imap_date_time(" 7-Feb-1994 21:52:25 -0800") == 760686745
    assert wire.parse_imap_date_time("07-feb-1994 21:52:25 -0800") == 760686745
    assert wire.parse_imap_date_time('"17-Jul-1996 02:44:25 -0700"') == 837596665


@pytest.mark.parametrize(
    "text",
    [
        "",
        "7-Feb-1994",
        "32-Feb-1994 21:52:25 -0800",
        "7-Fev-1994 21:52:25 -0800",
        "7-Feb-94 21:52:25 -0800",
        "7-Feb-1994 25:52:25 -0800",
        "7-Feb-1994 21:52:25 0800",
        "7-Feb-1994 21:52 -0800",
        "7-Feb-1994 21:52:25 -0860",
    ],
)
def test_parse_date_time_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        wire.parse_imap_date_time(text)


def test_parse_date() -> None:
    assert wire.parse_imap_date("1-Feb-1994") == datetime.date(1994, 2, 1)
    assert wire.parse_imap_date("01-FEB-1994") == datetime.date(1994, 2, 1)
    assert wire.parse_imap_date('"29-Feb-2024"') == datetime.date(2024, 2, 29)


@pytest.mark.parametrize(
    "text", ["", "29-Feb-2023", "1-Feb-94", "1 Feb 1994", "x-Feb-1994", "1-Febr-1994"]
)
def test_parse_date_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        wire.parse_imap_date(text)
