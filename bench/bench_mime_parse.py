"""The cold parse behind FETCH (ENVELOPE BODYSTRUCTURE): fast path vs the plain way, per message.

Usage: ``python bench/bench_mime_parse.py [--count N] [--rounds R]``

In one process, on the same messages, times

* ``plain``: the parse as it was before the cold-FETCH work -- every header
  field kept, every value parsed afresh (memos off), BODY and BODYSTRUCTURE
  rendered in two walks;
* ``fast``: :meth:`ParsedMessage.parse` as the server runs it (memos on, only
  the fields ENVELOPE/BODYSTRUCTURE read, one render walk), starting with
  empty memos each round.

Two sets of messages: ``bench`` (compare.py's bigfetch messages: 50 senders,
three shapes) and ``real`` (every sender different, eight ``Received:``
lines, a DKIM signature and list headers, like mail from the Internet), so
the gain from memoising repeated values is shown apart from the rest. Both
parses must give identical bytes (checked on every message).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import mime_message

from mailserver.imap.mime import memo, render
from mailserver.imap.mime.message import ParsedMessage
from mailserver.imap.mime.structure import parse_message
from mailserver.imap.mime.tree import Node


def real_message(number: int) -> bytes:
    """A message as it arrives from the Internet: long header, unique correspondents."""
    received = "".join(
        f"Received: from mx{hop}.relay{number}.example (mx{hop}.relay{number}.example "
        f"[192.0.2.{hop}])\r\n\tby mx.example.org with ESMTPS id {number:x}{hop}\r\n"
        f"\tfor <user{number}@example.org>; Mon, 7 Dec 2026 10:{hop:02d}:00 +0000\r\n"
        for hop in range(8)
    )
    header = (
        received + f"DKIM-Signature: v=1; a=rsa-sha256; d=sender{number}.example; s=k1;\r\n"
        f"\th=from:to:subject:date; bh={number:040x};\r\n\tb={number:0128x}\r\n"
        f"List-Id: <list{number % 7}.example.org>\r\n"
        f"List-Unsubscribe: <mailto:leave-{number}@example.org>\r\n"
        f'From: "Person {number}" <person{number}@sender{number}.example>\r\n'
        f"To: user{number}@example.org, Other {number} <other{number}@example.net>\r\n"
        f"Subject: Re: topic number {number}\r\n"
        f"Date: Mon, 7 Dec 2026 10:{number % 60:02d}:00 +0000\r\n"
        f"Message-ID: <{number}.{number * 7}@sender{number}.example>\r\n"
        "MIME-Version: 1.0\r\n"
    )
    text = f"Hello {number},\r\n\r\nsome text of the message.\r\n"
    return (
        header + f'Content-Type: multipart/alternative; boundary="=_{number}"\r\n\r\n'
        f"--=_{number}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{text}"
        f"--=_{number}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>{text}</p>\r\n"
        f"--=_{number}--\r\n"
    ).encode()


def plain(data: bytes) -> ParsedMessage:
    root = parse_message(data)
    return ParsedMessage(
        len(data),
        data[root.header_start : root.body_start],
        Node.of(root),
        render.envelope(root.fields),
        render.bodystructure(root, extended=False),
        render.bodystructure(root, extended=True),
    )


def timed(parse: Callable[[bytes], ParsedMessage], messages: list[bytes]) -> float:
    for m in memo.REGISTRY:
        m.clear()
    start = time.perf_counter()
    for data in messages:
        parse(data)
    return (time.perf_counter() - start) / len(messages) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sets = {
        "bench": [mime_message(n).replace(b"\r\n", b"\n") for n in range(args.count)],
        "real": [real_message(n).replace(b"\r\n", b"\n") for n in range(args.count)],
    }
    for name, messages in sets.items():
        saved = [m.max_key for m in memo.REGISTRY]
        for m in memo.REGISTRY:
            m.max_key = -1
        reference = [plain(data).to_json() for data in messages]
        plain_us = [timed(plain, messages) for _ in range(args.rounds)]
        for m, max_key in zip(memo.REGISTRY, saved, strict=True):
            m.max_key = max_key
        fast_us = [timed(ParsedMessage.parse, messages) for _ in range(args.rounds)]
        assert [ParsedMessage.parse(d).to_json() for d in messages] == reference
        p, f = statistics.median(plain_us), statistics.median(fast_us)
        print(f"{name:6} plain {p:7.1f} us/msg   fast {f:7.1f} us/msg   speed-up {p / f:4.1f}x")


if __name__ == "__main__":
    main()
