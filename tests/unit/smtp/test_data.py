"""Collecting DATA: the end marker, dot-unstuffing, and the two overruns."""

from __future__ import annotations

from mailserver.smtp.data import MessageBuffer, Overrun


def collect(buffer: MessageBuffer, *chunks: bytes) -> bool:
    return any([buffer.add(chunk) for chunk in chunks])


def test_lone_dot_ends_the_message_and_is_not_part_of_it() -> None:
    buffer = MessageBuffer(None, 100)
    assert not collect(buffer, b"Subject: x\r\n", b"\r\n", b"body\r\n")
    assert buffer.add(b".\r\n")
    assert buffer.overrun is None
    assert buffer.content() == b"Subject: x\r\n\r\nbody\r\n"


def test_leading_dot_is_unstuffed_once() -> None:
    buffer = MessageBuffer(None, 100)
    collect(buffer, b"..\r\n", b"..two\r\n", b".x\r\n", b"a.b\r\n")
    assert buffer.content() == b".\r\n.two\r\nx\r\na.b\r\n"


def test_bare_lf_dot_does_not_end_the_message() -> None:
    buffer = MessageBuffer(None, 100)
    assert not collect(buffer, b"body\n.\nMAIL FROM:<evil@example>\r\n")
    assert buffer.content() == b"body\n.\nMAIL FROM:<evil@example>\r\n"


def test_message_over_the_size_limit_is_read_to_the_end_but_not_kept() -> None:
    buffer = MessageBuffer(10, 100)
    assert not collect(buffer, b"12345678\r\n", b"x\r\n", b"more\r\n")
    assert buffer.overrun is Overrun.TOO_MUCH
    assert buffer.add(b".\r\n")
    assert buffer.content() == b""


def test_size_limit_counts_the_message_not_the_stuffing() -> None:
    # RFC 1870 4: a message of exactly SIZE octets fits, however many dots were doubled.
    buffer = MessageBuffer(10, 100)
    assert not collect(buffer, b"..abc\r\n", b"..d\r\n")
    assert buffer.overrun is None
    assert buffer.content() == b".abc\r\n.d\r\n"
    buffer = MessageBuffer(9, 100)
    collect(buffer, b"..abc\r\n", b"..d\r\n")
    assert buffer.overrun is Overrun.TOO_MUCH


def test_a_line_in_pieces_is_too_long_and_its_tail_is_no_end_marker() -> None:
    buffer = MessageBuffer(None, 10)
    # A line longer than the stream buffer arrives as pieces without CRLF; a
    # tail that happens to be ".\r\n" finishes that line, not the message.
    assert not collect(buffer, b"ok\r\n", b"x" * 20, b".\r\n")
    assert buffer.overrun is Overrun.TOO_LONG
    assert buffer.add(b".\r\n")


def test_complete_line_over_the_line_limit_is_too_long() -> None:
    buffer = MessageBuffer(None, 10)
    collect(buffer, b"y" * 9 + b"\r\n")
    assert buffer.overrun is Overrun.TOO_LONG


def test_first_overrun_wins() -> None:
    buffer = MessageBuffer(5, 10)
    collect(buffer, b"abc\r\n", b"y" * 20 + b"\r\n")
    assert buffer.overrun is Overrun.TOO_MUCH
