"""The APPEND grammar with MULTIAPPEND, CATENATE and literal8; IMAP URLs; BINARY decoding."""

from __future__ import annotations

import pytest

from mailserver.imap.binary import decode
from mailserver.imap.errors import ImapError
from mailserver.imap.parser.append import Append, AppendMessage, CatenatePart
from mailserver.imap.parser.binary import BinarySection
from mailserver.imap.parser.commands import Fetch, InvalidCommand, parse_command
from mailserver.imapurl import BadUrl, ImapUrl, parse_imap_url


def test_multiappend_with_flags_dates_and_binary_literals() -> None:
    line = (
        b'a APPEND Sent (\\Seen) {3}\r\nabc " 7-Feb-1994 22:43:04 -0800" ~{2}\r\nx\x00'
        b" (\\Draft) {1+}\r\nz"
    )
    command = parse_command(line)
    assert isinstance(command, Append)
    assert command.messages == (
        AppendMessage(("\\Seen",), None, b"abc"),
        AppendMessage((), 760689784.0, b"x\x00", binary=True),
        AppendMessage(("\\Draft",), None, b"z"),
    )


def test_catenate_parts() -> None:
    line = b'a APPEND Drafts CATENATE (URL "/INBOX/;UID=3" TEXT {2}\r\nhi URL /x/;UID=1)'
    command = parse_command(line)
    assert isinstance(command, Append)
    assert command.messages[0].catenate == (
        CatenatePart(url="/INBOX/;UID=3"),
        CatenatePart(text=b"hi"),
        CatenatePart(url="/x/;UID=1"),
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"a APPEND INBOX", "Missing argument"),
        (b"a APPEND INBOX {1}\r\nx (", "Missing flag"),
        (b"a APPEND INBOX {1}\r\nx extra", "Expected the message as a literal"),
        (b"a APPEND INBOX CATENATE ()", "Expected TEXT or URL in CATENATE"),
        (b"a APPEND INBOX CATENATE (URL x", "Expected ')' after the CATENATE parts"),
        (b"a APPEND INBOX CATENATE (BODY x)", "Expected TEXT or URL in CATENATE"),
        (b"a APPEND INBOX ~x", "Invalid literal"),
    ],
)
def test_bad_appends(line: bytes, reason: str) -> None:
    command = parse_command(line)
    assert isinstance(command, InvalidCommand) and command.reason == reason


def test_binary_fetch_items() -> None:
    command = parse_command(b"a FETCH 1 (BINARY[1.2]<0.5> BINARY.PEEK[] BINARY.SIZE[3])")
    assert isinstance(command, Fetch)
    assert command.items == (
        BinarySection((1, 2), partial=(0, 5)),
        BinarySection((), peek=True),
        BinarySection((3,), size=True),
    )
    for bad in (b"a FETCH 1 BINARY[HEADER]", b"a FETCH 1 BINARY[1.TEXT]", b"a FETCH 1 BINARY[0]"):
        assert isinstance(parse_command(bad), InvalidCommand)


def test_imap_urls() -> None:
    assert parse_imap_url("/INBOX;UIDVALIDITY=385759045/;UID=20/;SECTION=1.2") == ImapUrl(
        None, None, "INBOX", 385759045, 20, "1.2", None
    )
    url = parse_imap_url("imap://fred@example.com/Entw%C3%BCrfe/;UID=7/;PARTIAL=10.5")
    assert (url.user, url.host, url.mailbox, url.uid, url.partial) == (
        "fred", "example.com", "Entwürfe", 7, (10, 5)
    )  # fmt: skip
    assert parse_imap_url("/inbox/;UID=1;URLAUTH=x").rest == ";URLAUTH=x"
    for bad in ("http://x/", "/INBOX", "/INBOX/;UID=0", "//host/INBOX/;UID=1", "/%FF/;UID=1"):
        with pytest.raises(BadUrl):
            parse_imap_url(bad)


def test_transfer_decoding() -> None:
    assert decode(b"aGVsbG8g\r\nd29y bGQ=\r\n", "base64") == b"hello world"
    assert decode(b"aGVsbG8", "base64") == b"hello"  # padding forgiven, as Dovecot does
    assert decode(b"caf=C3=A9 =3D=\r\nx", "quoted-printable") == "café =x".encode()
    assert decode(b"\x00raw", "binary") == b"\x00raw"
    with pytest.raises(ImapError) as caught:
        decode(b"begin", "x-uuencode")
    assert caught.value.response.code == "UNKNOWN-CTE"
