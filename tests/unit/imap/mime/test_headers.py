"""Header fields, MIME parameters (RFC 2045 / 2231) and encoded words (RFC 2047)."""

from __future__ import annotations

import random

import pytest

from mailserver.imap.mime import headers
from mailserver.imap.mime.headers import (
    decode_2231,
    decode_header_text,
    decode_text,
    parse_fields,
    parse_param_value,
    strip_comments,
)
from mailserver.imap.mime.render import ENVELOPE_FIELDS


def test_fields_keep_raw_lines_and_unfold() -> None:
    block = b"Subject: one\r\n two\r\n\tthree\r\nFrom : a@b\r\n\r\nbody: not a header\r\n"
    fields = parse_fields(block)
    assert [f.name for f in fields] == ["Subject", "From"]
    assert fields[0].raw == b"Subject: one\r\n two\r\n\tthree\r\n"
    assert fields[0].unfolded() == "one two\tthree"
    assert fields[1].key == "from" and fields[1].unfolded() == "a@b"


def test_fields_odd_lines() -> None:
    fields = parse_fields(b" leading continuation\r\nno colon here\r\nX: y")
    assert [f.name for f in fields] == [" leading continuation", "no colon here", "X"]
    assert fields[2].raw == b"X: y"


@pytest.mark.parametrize(
    ("value", "main", "params"),
    [
        ("text/plain", "text/plain", ()),
        ('text/plain; charset="utf-8"', "text/plain", (("charset", "utf-8"),)),
        (
            "text/plain;charset=utf-8;format=flowed",
            "text/plain",
            (("charset", "utf-8"), ("format", "flowed")),
        ),
        ('a/b; x="semi;colon"; y="esc\\"aped"', "a/b", (("x", "semi;colon"), ("y", 'esc"aped'))),
        ("a/b (comment); c=d (more)", "a/b", (("c", "d"),)),
        ("a/b; broken; c=d; =e", "a/b", (("c", "d"),)),
        ("a/b; C=1; c=2", "a/b", (("C", "1"),)),
        ("a/b; name*=utf-8''%E4%BD%A0.txt", "a/b", (("name*", "utf-8''%E4%BD%A0.txt"),)),
        ('a/b; n*0="long "; n*1="value"', "a/b", (("n", "long value"),)),
        ("a/b; n*1*=%41; n*0*=us-ascii'en'%42", "a/b", (("n*", "us-ascii'en'%42%41"),)),
        ("a/b; n*0*=utf-8''%E4; n*1=\"x y\"", "a/b", (("n*", "utf-8''%E4x%20y"),)),
        ('a/b; n*0="plain"; n*1*=%41', "a/b", (("n*", "''plain%41"),)),
        ('multipart/mixed; boundary="foo\r\n bar"', "multipart/mixed", (("boundary", "foo bar"),)),
    ],
)
def test_param_values(value: str, main: str, params: tuple[tuple[str, str], ...]) -> None:
    parsed = parse_param_value(value)
    assert parsed.main == main
    assert parsed.params == params


def test_decode_2231() -> None:
    assert decode_2231("utf-8''%E6%8A%A5%E5%91%8A.pdf") == "报告.pdf"
    assert decode_2231("us-ascii'en'This%20is") == "This is"
    assert decode_2231("bogus''100%") == "100%"


def test_strip_comments() -> None:
    assert strip_comments('a (b (nested) c) "(kept)" d') == 'a  "(kept)" d'
    assert strip_comments("x (unterminated") == "x "


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("plain", "plain"),
        ("=?utf-8?B?5rWL6K+V?=", "测试"),
        ("=?UTF-8?Q?caf=C3=A9_au_lait?=", "café au lait"),
        ("=?utf-8?B?5rWL6K+V?= =?utf-8?B?6YKu5Lu2?=", "测试邮件"),
        ("=?utf-8?B?5rWL?= \t =?utf-8?B?6K+V?=", "测试"),  # split inside one character
        ("a =?utf-8?Q?b?= c", "a b c"),
        ("=?iso-8859-1?q?J=F8rn?= =?utf-8?q?_and_?=", "Jørn and "),
        ("=?gb2312?B?1tDOxA==?=", "中文"),
        ("=?utf-8*en?Q?lang?=", "lang"),
        ("=?unknown-charset?Q?abc?=", "abc"),
        ("=?utf-8?B?not base64 at all?=", "=?utf-8?B?not base64 at all?="),
        ("=?utf-8?X?abc?=", "=?utf-8?X?abc?="),
        ("\udce4\udcb8\udcad", "中"),  # raw UTF-8 bytes carried through str
    ],
)
def test_decode_header_text(raw: str, text: str) -> None:
    assert decode_header_text(raw) == text


def test_decode_text_charsets() -> None:
    assert decode_text("中文".encode("gbk"), "GB2312") == "中文"
    assert decode_text("é".encode("latin-1"), "iso-8859-1") == "é"
    assert decode_text("中文".encode(), None) == "中文"
    assert decode_text("中文".encode("gb18030"), "x-unknown") == "中文"
    assert decode_text(b"\xff\xfe\xfd", "utf-8") == "\ufffd\ufffd\ufffd"


@pytest.mark.parametrize(
    "charset",
    ["\x00", "utf\x00-8", "base64", "rot13", "zlib", "hex", "uu", "undefined", "idna", "punycode",
     "x\udcff"],
)  # fmt: skip
def test_decode_text_survives_charset_names_python_refuses(charset: str) -> None:
    """The name comes from the message: no codec (or a non-text one) means a guess, not a crash."""
    assert isinstance(decode_text("中文 ok".encode(), charset), str)
    assert isinstance(decode_text(b"\xff\xfe\\N{", charset), str)
    assert decode_header_text(f"=?{charset}?Q?ok=FF?= tail").endswith(" tail")
    if charset in ("base64", "\x00", "undefined"):
        assert decode_text("中文 ok".encode(), charset) == "中文 ok"


def test_remembered_field_names_change_nothing_and_stay_bounded() -> None:
    """parse_fields remembers each raw name's text (and whether a filter keeps it):
    a warm table must give what a cold one gives, for either filter."""
    rng = random.Random(7)
    pieces = [b"From", b"from", b"X-A", b"Content-Type", b"CONTENT-x", b"To ", b"", b"\xc3\xa9"]
    pieces += [b"Subject", b"\xe2\x84\xaaeywords", b"Received", b"Date\t"]
    blocks = []
    for _ in range(2000):
        lines = [
            rng.choice(pieces) + rng.choice([b": v", b":", b" no colon", b": a\r\n b"])
            for _ in range(rng.randint(0, 6))
        ]
        blocks.append(b"\r\n".join(lines) + b"\r\n\r\nbody")
    for wanted in (None, ENVELOPE_FIELDS):
        headers._NAMES.clear()
        cold = []
        for block in blocks:
            headers._NAMES.clear()
            cold.append(parse_fields(block, wanted))
        warm = [parse_fields(block, wanted) for block in blocks]
        assert warm == cold
        assert all(len(names) <= headers._MAX_NAMES for names in headers._NAMES.values())
    many = b"".join(b"X-%d: v\r\n" % n for n in range(3 * headers._MAX_NAMES))
    assert len(parse_fields(many)) == 3 * headers._MAX_NAMES
    assert all(len(names) <= headers._MAX_NAMES for names in headers._NAMES.values())
