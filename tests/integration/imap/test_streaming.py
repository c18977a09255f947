"""Large messages go out of their file in chunks (issue 15), byte for byte what
the whole-message path sent: ``BODY[]``, partials, ``RFC822``, NULs as 0x80."""

from __future__ import annotations

import imaplib
from collections.abc import Callable

from tests.integration.imap.conftest import RawImap, deliver, make_message
from tests.support.server import ServerProcess

#: Over fetch.STREAM_FROM, with bare LFs (stored as LF, sent as CRLF), dots and a NUL.
BODY = b"".join(b"line %d .with dots\n" % i for i in range(40_000)) + b"nul \x00 here\r\n"


def test_large_body_fetches_match_the_stored_message(
    mail_server: ServerProcess, imap: imaplib.IMAP4
) -> None:
    message = make_message(1, BODY)
    deliver(mail_server, [message, make_message(2)])
    expected = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n").replace(b"\x00", b"\x80")
    imap.select("INBOX")
    status, data = imap.uid("FETCH", "1:*", "(RFC822.SIZE BODY.PEEK[] FLAGS)")
    assert status == "OK"
    first = data[0]
    assert isinstance(first, tuple)
    assert b"RFC822.SIZE %d " % len(expected) in first[0]
    assert first[1] == expected
    assert data[1] == b" FLAGS (\\Recent))"  # what followed the literal came through too
    for start, count in [(0, 100), (12345, 300_000), (len(expected) - 10, 100)]:
        status, data = imap.uid("FETCH", "1", f"(BODY.PEEK[]<{start}.{count}>)")
        assert status == "OK"
        part = data[0]
        assert isinstance(part, tuple)
        assert part[0].endswith(b"BODY[]<%d> {%d}" % (start, min(count, len(expected) - start)))
        assert part[1] == expected[start : start + count]
    status, data = imap.uid("FETCH", "1", "(RFC822)")
    part = data[0]
    assert isinstance(part, tuple) and part[1] == expected
    status, data = imap.uid("FETCH", "1", "(FLAGS)")
    assert b"\\Seen" in data[0]  # RFC822 sets \Seen, as BODY[] without PEEK


def test_large_append_goes_through_a_file_and_is_stored_unchanged(
    mail_server: ServerProcess, imap: imaplib.IMAP4
) -> None:
    message = make_message(7, BODY.replace(b"\x00", b"0") * 3)
    status, data = imap.append("INBOX", "(\\Flagged)", None, message)
    assert status == "OK", data
    imap.select("INBOX")
    status, data = imap.fetch("1", "(FLAGS BODY.PEEK[])")
    part = data[0]
    assert isinstance(part, tuple)
    assert b"\\Flagged" in part[0]
    assert part[1] == message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert not list((mail_server.data_dir / "spool").iterdir())


def test_non_synchronizing_append_and_an_oversized_header(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory(limits={"max_header_size": 4096})
    client = RawImap(server.host, server.ports["imap"])
    client.readline_bytes()  # greeting
    client.ok("a LOGIN group1_1 group1_1")
    fine = make_message(8, b"x" * 100_000 + b"\r\n")
    client.send(b"b APPEND INBOX {%d+}\r\n%b\r\n" % (len(fine), fine))
    assert client.until_tagged(b"b")[-1].startswith(b"b OK [APPENDUID ")
    big_header = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 70) for i in range(100))
    bad = big_header + b"\r\n" + b"y" * 20_000 + b"\r\n"
    client.send(b"c APPEND INBOX {%d+}\r\n%b\r\n" % (len(bad), bad))
    refused = client.until_tagged(b"c")[-1]
    assert refused == b"c NO [LIMIT] Message header too large (limit 4096 octets)\r\n"
    client.ok("d NOOP")  # still in step
    assert not list((server.data_dir / "spool").iterdir())


def test_append_over_quota_is_refused_before_the_client_sends_it(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory(quota={"default_mb": 1})
    client = RawImap(server.host, server.ports["imap"])
    client.readline_bytes()  # greeting
    client.ok("a LOGIN group1_1 group1_1")
    client.send(b"b APPEND INBOX {%d}" % (2 * 1024 * 1024))
    # No "+ Ready": the 2 MiB never cross the network.
    assert client.response_line() == b"b NO [OVERQUOTA] Quota exceeded\r\n"
    client.ok("c NOOP")
    small = make_message(9, b"fits\r\n" * 1000)
    client.send(b"d APPEND INBOX {%d+}\r\n%b" % (len(small), small))
    assert client.until_tagged(b"d")[-1].startswith(b"d OK")
