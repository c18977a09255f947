"""Byte-stuffing of RETR/TOP output and the TOP cut."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mailserver.pop3.dotstuff import DotStuffer, dot_stuffed_chunks, stuff_line, top_cut, top_part


def stuffed(data: bytes, chunk_size: int = 65536) -> bytes:
    return b"".join(dot_stuffed_chunks(data, chunk_size))


def unstuff(wire: bytes) -> bytes:
    """What a client does: drop the terminator, remove one leading dot per line."""
    assert wire.endswith(b"\r\n.\r\n") or wire == b".\r\n"
    body = wire[:-3]
    lines = body.split(b"\r\n")
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in lines)


def test_lines_starting_with_a_dot_get_one_more() -> None:
    data = b"Subject: x\r\n\r\n.\r\n..two\r\n.three\r\nend\r\n"
    assert stuffed(data) == b"Subject: x\r\n\r\n..\r\n...two\r\n..three\r\nend\r\n.\r\n"


def test_first_line_starting_with_a_dot() -> None:
    assert stuffed(b".hidden\r\n") == b"..hidden\r\n.\r\n"


def test_empty_message_is_just_the_terminator() -> None:
    assert stuffed(b"") == b".\r\n"


def test_missing_final_line_break_is_added() -> None:
    assert stuffed(b"a\r\nno newline") == b"a\r\nno newline\r\n.\r\n"


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 7, 64])
def test_chunk_boundaries_never_miss_a_dot(chunk_size: int) -> None:
    data = b".a\r\n.\r\nb.c\r\n..\r\n\r\n.x\r\n" * 5
    assert stuffed(data, chunk_size) == stuffed(data)
    assert unstuff(stuffed(data, chunk_size)) == data


def test_chunks_are_bounded() -> None:
    data = b"x" * 100_000 + b"\r\n"
    chunks = list(dot_stuffed_chunks(data, 4096))
    assert max(len(c) for c in chunks) <= 4096
    assert b"".join(chunks) == data + b".\r\n"


def test_long_line_of_dots_roundtrips() -> None:
    data = b"." * 100_000 + b"\r\n"
    assert unstuff(stuffed(data, 1000)) == data


def test_top_zero_lines_is_header_and_blank_line() -> None:
    data = b"A: 1\r\nB: 2\r\n\r\nline1\r\nline2\r\n"
    assert bytes(top_part(data, 0)) == b"A: 1\r\nB: 2\r\n\r\n"
    assert bytes(top_part(data, 1)) == b"A: 1\r\nB: 2\r\n\r\nline1\r\n"
    assert bytes(top_part(data, 2)) == data
    assert bytes(top_part(data, 99)) == data


def test_top_of_message_without_body_or_header() -> None:
    assert bytes(top_part(b"A: 1\r\nB: 2\r\n", 0)) == b"A: 1\r\nB: 2\r\n"
    assert bytes(top_part(b"\r\nbody\r\nmore\r\n", 1)) == b"\r\nbody\r\n"


def test_stuff_line() -> None:
    assert stuff_line(".x") == "..x"
    assert stuff_line("1 200") == "1 200"


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
async def test_streamed_stuffing_and_top_match_the_whole_message_forms(size: int) -> None:
    message = b"Subject: x\r\n.hidden: no\r\n\r\n.dot\r\nline 2\r\n..two\r\nlast"
    stuffer = DotStuffer()
    streamed = b"".join([stuffer.feed(c) async for c in _chunks(message, size)]) + stuffer.end()
    assert streamed == b"".join(dot_stuffed_chunks(message))
    for lines in (0, 1, 2, 10):
        cut = b"".join([c async for c in top_cut(_chunks(message, size), lines)])
        assert cut == bytes(top_part(message, lines)), lines
    no_header = b"\r\nbody\r\nmore\r\n"
    assert b"".join([c async for c in top_cut(_chunks(no_header, size), 1)]) == b"\r\nbody\r\n"
