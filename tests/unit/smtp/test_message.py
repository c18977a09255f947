"""The stored message: header detection, added fields, trace fields."""

from __future__ import annotations

import email
import email.policy

import pytest

from mailserver.smtp.message import (
    Prepared,
    Trace,
    address_literal,
    delivered_copy,
    prepare,
    received_field,
    split_header,
    with_protocol,
)

HOST = "JServer.NetLab"
NOW = 1_700_000_000.0


def prep(content: bytes, sender: str = "a@b.example") -> bytes:
    return prepare(
        content, sender=sender, queue_id="ABCDEF012345", hostname=HOST, timestamp=NOW
    ).data


def test_split_header_with_blank_line() -> None:
    split = split_header(b"Subject: x\r\nFrom: a\r\n\r\nbody\r\n")
    assert (split.header, split.body, split.had_separator) == (
        b"Subject: x\r\nFrom: a\r\n",
        b"body\r\n",
        True,
    )


def test_split_header_continuation_lines_belong_to_the_header() -> None:
    split = split_header(b"Subject: a\r\n  long one\r\n\tmore\r\n\r\nbody\r\n")
    assert split.header == b"Subject: a\r\n  long one\r\n\tmore\r\n"


@pytest.mark.parametrize(
    "content",
    [
        b"myemail\r\n",
        b"Hello there, how are you?\r\nSubject: not a header here\r\n",
        b" indented first line\r\n",
        b"From someone Mon Jan 1\r\nbody\r\n",
        b": no name\r\n",
    ],
)
def test_no_header_section(content: bytes) -> None:
    split = split_header(content)
    assert split.header == b""
    assert split.body == content
    assert not split.had_separator


def test_header_without_blank_line_ends_at_first_non_field_line() -> None:
    split = split_header(b"Subject: hi\r\nThis is the body\r\n")
    assert split.header == b"Subject: hi\r\n"
    assert split.body == b"This is the body\r\n"
    assert not split.had_separator


def test_obsolete_blank_before_colon_is_a_field() -> None:
    assert split_header(b"Subject : hi\r\n\r\nx\r\n").header == b"Subject : hi\r\n"


def test_empty_message() -> None:
    data = prep(b"")
    header, _, body = data.partition(b"\r\n\r\n")
    assert body == b""
    assert b"Message-ID: <ABCDEF012345@JServer.NetLab>" in header


def test_bare_body_becomes_a_well_formed_message() -> None:
    data = prep(b"myemail\r\n")
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert parsed["From"] == "a@b.example"
    assert parsed["Message-ID"] == "<ABCDEF012345@JServer.NetLab>"
    assert parsed["Date"] is not None
    assert parsed.get_content().strip() == "myemail"
    assert data.endswith(b"\r\n\r\nmyemail\r\n")


def test_existing_fields_are_kept_and_not_duplicated() -> None:
    content = (
        b"From: nick <group1_1@JServer.NetLab>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
        b"Message-ID: <x@y>\r\nSubject: Test mail 3\r\n\r\nThis is a test mail!\r\n"
    )
    assert prep(content) == content


def test_missing_blank_line_is_inserted() -> None:
    data = prep(b"Subject: hi\r\nFrom: x@y\r\nThis is the body\r\n")
    assert data.endswith(b"\r\n\r\nThis is the body\r\n")
    assert data.startswith(b"Subject: hi\r\nFrom: x@y\r\nDate: ")


def test_client_return_path_is_dropped() -> None:
    data = prep(b"Return-Path: <forged@x>\r\n continued\r\nSubject: s\r\n\r\nb\r\n")
    assert b"forged" not in data
    assert b"continued" not in data


def test_null_sender_gets_mailer_daemon_from() -> None:
    assert b"From: MAILER-DAEMON@JServer.NetLab\r\n" in prep(b"x\r\n", sender="")


def test_body_is_kept_byte_for_byte() -> None:
    body = b".leading dot\r\n\r\n\xff\xfe raw 8bit\r\nno final newline"
    assert prep(b"Subject: s\r\n\r\n" + body).endswith(b"\r\n\r\n" + body)


def trace(**overrides: object) -> Trace:
    values: dict[str, object] = {
        "helo": "cslabc36",
        "client_ip": "172.16.0.36",
        "client_name": None,
        "hostname": HOST,
        "protocol": "ESMTPA",
        "queue_id": "ABCDEF012345",
        "timestamp": NOW,
    }
    values.update(overrides)
    return Trace(**values)  # type: ignore[arg-type]


def test_received_field_form() -> None:
    field = received_field(trace(), "group1_2@JServer.NetLab").decode()
    lines = field.split("\r\n")
    assert lines[0] == "Received: from cslabc36 ([172.16.0.36])"
    assert lines[1] == "\tby JServer.NetLab (mailserver) with ESMTPA id ABCDEF012345"
    assert lines[2].startswith("\tfor <group1_2@JServer.NetLab>; ")
    assert email.utils.parsedate_to_datetime(lines[2].split("; ", 1)[1]).timestamp() == NOW
    assert field.endswith("\r\n")


def test_received_field_with_reverse_dns_name() -> None:
    field = received_field(trace(client_name="cslabc36.lab"), "x@y")
    assert field.startswith(b"Received: from cslabc36 (cslabc36.lab [172.16.0.36])\r\n")


def test_received_field_sanitizes_helo() -> None:
    field = received_field(trace(helo="evil\x00\udcff" + "x" * 500), "x@y")
    first = field.split(b"\r\n")[0]
    assert b"\x00" not in first
    assert len(first) < 300


def test_delivered_copy_order() -> None:
    copy = delivered_copy(Prepared(b"Subject: s\r\n\r\nb\r\n"), trace(), "a@b", "c@d")
    assert copy.startswith(b"Return-Path: <a@b>\r\nReceived: from ")
    assert copy.endswith(b"Subject: s\r\n\r\nb\r\n")
    parsed = email.message_from_bytes(copy, policy=email.policy.default)
    assert parsed["Return-Path"] == "<a@b>"
    assert "for <c@d>" in str(parsed["Received"])


@pytest.mark.parametrize(
    ("extended", "tls", "auth", "utf8", "keyword"),
    [
        (False, False, False, False, "SMTP"),
        (True, False, False, False, "ESMTP"),
        (True, False, True, False, "ESMTPA"),
        (True, True, False, False, "ESMTPS"),
        (True, True, True, False, "ESMTPSA"),
        (True, False, False, True, "UTF8SMTP"),
        (True, False, True, True, "UTF8SMTPA"),
        (True, True, False, True, "UTF8SMTPS"),
        (True, True, True, True, "UTF8SMTPSA"),
    ],
)
def test_with_protocol(extended: bool, tls: bool, auth: bool, utf8: bool, keyword: str) -> None:
    assert with_protocol(extended, tls, auth, utf8) == keyword


@pytest.mark.parametrize(
    ("ip", "literal"),
    [
        ("192.0.2.1", "[192.0.2.1]"),
        ("2001:db8::1", "[IPv6:2001:db8::1]"),
        ("::ffff:192.0.2.1", "[192.0.2.1]"),
        ("unknown", "[unknown]"),
    ],
)
def test_address_literal(ip: str, literal: str) -> None:
    assert address_literal(ip) == literal
