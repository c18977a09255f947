"""Decoding DATA as it streams in: the end marker, dot-unstuffing, sizes, bare LF.

Every case is fed whole and also one octet at a time: the decoder must give
the same message whatever the socket's chunking.
"""

from __future__ import annotations

import pytest

from mailserver.smtp.data import DotDecoder, Overrun


def decode(decoder: DotDecoder, *chunks: bytes) -> tuple[bytes, bool]:
    out = bytearray()
    ended = False
    for chunk in chunks:
        pieces, ended = decoder.feed(chunk)
        for piece in pieces:
            out += piece
        if ended:
            break
    return bytes(out), ended


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


@pytest.mark.parametrize("split", [False, True], ids=["whole", "bytewise"])
@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"Subject: x\r\n\r\nbody\r\n.\r\n", b"Subject: x\r\n\r\nbody\r\n"),
        (b".\r\n", b""),
        (b"..\r\n..two\r\n.x\r\na.b\r\n.\r\n", b".\r\n.two\r\nx\r\na.b\r\n"),
        (b"a\r\n...\r\n.\r\n", b"a\r\n..\r\n"),
        # Bare LF and bare CR never end DATA (RFC 5321 4.1.1.4, SMTP smuggling).
        (b"body\n.\nMAIL FROM:<e@x>\r\n.\r\n", b"body\n.\nMAIL FROM:<e@x>\r\n"),
        (b"body\r\n.\nx\r\n.\r\n", b"body\r\n\nx\r\n"),  # a stuffed dot
        (b"body\r.\r\nx\r\n.\r\n", b"body\r.\r\nx\r\n"),
        (b"a\r\r\n.\r\n", b"a\r\r\n"),
        (b"x" * 100_000 + b"\r\n.\r\n", b"x" * 100_000 + b"\r\n"),
    ],
)
def test_message_decoded_whatever_the_chunking(wire: bytes, message: bytes, split: bool) -> None:
    decoder = DotDecoder(None)
    got, ended = decode(decoder, *(bytewise(wire) if split and len(wire) < 1000 else [wire]))
    assert ended
    assert got == message
    assert decoder.received == len(message)
    assert decoder.overrun is None


def test_octets_after_the_dot_are_kept_for_the_command_loop() -> None:
    decoder = DotDecoder(None)
    got, ended = decode(decoder, b"hi\r\n.\r\nQUIT\r\n")
    assert (got, ended, decoder.rest) == (b"hi\r\n", True, b"QUIT\r\n")


def test_a_long_line_in_pieces_then_the_end() -> None:
    decoder = DotDecoder(None)
    got, ended = decode(decoder, b"ok\r\n", b"x" * 20, b".\r\n", b".\r\n")
    # ".\r\n" right after "x"s finishes that line; the next one ends the message.
    assert ended and got == b"ok\r\n" + b"x" * 20 + b".\r\n"


def test_message_over_the_size_limit_is_read_to_the_end_but_not_kept() -> None:
    decoder = DotDecoder(10)
    got, ended = decode(decoder, b"12345678\r\n", b"x\r\n", b"more\r\n", b".\r\n")
    assert ended
    assert decoder.overrun is Overrun.TOO_MUCH
    assert got == b"12345678\r\n"  # what came before the limit; the caller refuses it all


def test_size_limit_counts_the_message_not_the_stuffing() -> None:
    # RFC 1870 4: a message of exactly SIZE octets fits, however many dots were doubled.
    decoder = DotDecoder(10)
    got, _ = decode(decoder, b"..abc\r\n..d\r\n.\r\n")
    assert decoder.overrun is None and got == b".abc\r\n.d\r\n"
    decoder = DotDecoder(9)
    decode(decoder, b"..abc\r\n..d\r\n.\r\n")
    assert decoder.overrun is Overrun.TOO_MUCH


def test_bare_lf_and_a_lone_dot_lf_are_noticed() -> None:
    decoder = DotDecoder(None)
    decode(decoder, b"Subject: hi\n\nhello\n")
    assert decoder.bare_lf and not decoder.lf_dot_lf
    decode(decoder, b".\n")
    assert decoder.lf_dot_lf
    decode(decoder, b"more\n")
    assert not decoder.lf_dot_lf


def test_crlf_client_is_not_taken_for_bare_lf() -> None:
    decoder = DotDecoder(None)
    decode(decoder, *bytewise(b"Subject: hi\r\n\r\nhello\r\n"))
    assert not decoder.bare_lf
