"""Section labels and part addressing (RFC 3501 6.4.5)."""

from __future__ import annotations

import pytest

from mailserver.imap.mime.message import ParsedMessage
from mailserver.imap.mime.section import Section, section_label


@pytest.mark.parametrize(
    ("section", "label"),
    [
        (Section(), ""),
        (Section(text="HEADER"), "HEADER"),
        (Section(text="TEXT"), "TEXT"),
        (Section((1, 2)), "1.2"),
        (Section((2,), "MIME"), "2.MIME"),
        (Section((3,), "HEADER"), "3.HEADER"),
        (Section(text="HEADER.FIELDS", fields=("Subject", "from")), "HEADER.FIELDS (SUBJECT FROM)"),
        (Section((4, 1), "HEADER.FIELDS.NOT", ("X-A",)), "4.1.HEADER.FIELDS.NOT (X-A)"),
    ],
)
def test_label(section: Section, label: str) -> None:
    assert section_label(section) == label


MESSAGE = (
    b"Subject: outer\r\nX-Long: a\r\n b\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n"
    b"--o\r\nContent-Type: text/plain\r\n\r\none\r\n"
    b"--o\r\nContent-Type: message/rfc822\r\n\r\n"
    b"Subject: inner\r\n\r\ninner body\r\n"
    b"--o--\r\n"
)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (Section(text="HEADER.FIELDS", fields=("x-long",)), b"X-Long: a\r\n b\r\n\r\n"),
        (Section(text="HEADER.FIELDS", fields=("nothing",)), b"\r\n"),
        (
            Section(text="HEADER.FIELDS.NOT", fields=("X-LONG", "content-type")),
            b"Subject: outer\r\n\r\n",
        ),
        (Section((1,)), b"one"),
        (Section((1, 1)), b"one"),
        (Section((1, 2)), b""),
        (Section((1,), "HEADER"), b""),
        (Section((2,)), b"Subject: inner\r\n\r\ninner body"),
        (Section((2,), "HEADER"), b"Subject: inner\r\n\r\n"),
        (Section((2,), "TEXT"), b"inner body"),
        (Section((2, 1)), b"inner body"),
        (Section((2, 1), "MIME"), b"Subject: inner\r\n\r\n"),
        (Section((2, 2)), b""),
        (Section((0,)), b""),
        (Section((3,), "MIME"), b""),
    ],
)
def test_sections(section: Section, expected: bytes) -> None:
    assert ParsedMessage.parse(MESSAGE).section(MESSAGE, section) == expected


def test_non_multipart_part_one_is_the_body() -> None:
    data = b"Subject: x\r\n\r\nhello\r\n"
    parsed = ParsedMessage.parse(data)
    assert parsed.section(data, Section((1,))) == b"hello\r\n"
    assert parsed.section(data, Section((2,))) == b""
    assert parsed.section(data, Section(text="TEXT")) == b"hello\r\n"
