"""FETCH of hostile messages over a real session: the response stays valid IMAP.

A seeded fuzz run mutates the MIME corpus (truncation, lost or doubled
delimiters, line-end games, NULs and 8-bit bytes in headers, odd charsets)
and checks, through the listener, what a client relies on: the session
survives, every response parses, RFC822.SIZE is len(BODY[]), each part's
BODY[n] is as long as its BODYSTRUCTURE size and has its line count, and
BODY[n.MIME] + BODY[n] appear together in the message.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from mailserver.storage.maildir.flags import to_disk, to_wire
from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_rfc3501 import Dialogue, ImapLab
from tests.unit.imap.mime.imapdata import _read, crlf

imap_lab_factory = harness.imap_lab_factory
imap_lab = harness.imap_lab

CORPUS = Path(__file__).parents[1] / "corpus" / "mime"
_LITERAL = re.compile(rb"\{(\d+)\}\r\n$")


async def exchange(client: Dialogue, tag: str, command: bytes) -> tuple[list[bytes], bytes]:
    """Send one command; (untagged responses with their literals, tagged line)."""
    await client.send(tag.encode() + b" " + command)
    responses = []
    while True:
        response = b""
        while True:
            line = await client.line_bytes() + b"\r\n"
            response += line
            match = _LITERAL.search(line)
            if match is None:
                break
            response += await client.read(int(match.group(1)))
        if response.startswith(tag.encode() + b" "):
            return responses, response
        responses.append(response)


def fetch_items(response: bytes) -> dict[str, Any]:
    """``* n FETCH (...)`` -> item name -> value; fails on anything that is not IMAP."""
    match = re.match(rb"\* \d+ FETCH ", response)
    assert match is not None, response[:80]
    value, end = _read(response, match.end())
    assert response[end:] == b"\r\n", response[end : end + 40]
    items = iter(value)
    return {str(name): next(items) for name in items}


async def fetch_one(client: Dialogue, what: bytes) -> dict[str, Any]:
    untagged, done = await exchange(client, "f", b"FETCH 1 (" + what + b")")
    assert done.startswith(b"f OK"), done
    (response,) = [r for r in untagged if b" FETCH " in r[:16]]
    return fetch_items(response)


async def test_nul_bytes_never_reach_the_wire(imap_lab: ImapLab) -> None:
    """CHAR8 excludes NUL (RFC 3501 9): each becomes 0x80, so every size stays exact."""
    message = (
        b"From: Nul\x00Name <a@example.com>\r\nSubject: one\x00two\r\n"
        b'Content-Type: text/plain; name="x\x00y"\r\n\r\nbody\x00text\r\n'
    )
    await imap_lab.deliver(message)
    client = await imap_lab.login()
    await exchange(client, "s", b"SELECT INBOX")
    items = await fetch_one(client, b"ENVELOPE BODYSTRUCTURE RFC822.SIZE BODY.PEEK[] BODY.PEEK[1]")
    assert items["ENVELOPE"][1] == b"one\x80two"
    assert items["ENVELOPE"][2][0][0] == b"Nul\x80Name"
    assert items["BODYSTRUCTURE"][2] == [b"NAME", b"x\x80y", b"CHARSET", b"US-ASCII"]
    assert items["BODY[]"] == message.replace(b"\x00", b"\x80")
    assert items["RFC822.SIZE"] == len(items["BODY[]"])
    assert items["BODY[1]"] == b"body\x80text\r\n"
    assert items["BODYSTRUCTURE"][6] == len(items["BODY[1]"])


# ------------------------------------------------------------------ fuzzing

_INSERTS = (
    b"\r\n", b"\r\n\r\n", b"\n", b"\r", b"--", b'"', b"(", b";", b"\x00", b"\xff\xfe",
    b"=?utf-8?B?", b"=?x?q?a=ZZ?=", b"=?base64?Q?a?=", b"; charset=rot13", b"; charset=\x00",
    b"; title*0*=us-ascii'en'a%", b"; title*1=b", b"; boundary=\"\"", b"no colon here\r\n",
    b"Content-Type: message/rfc822\r\n", b"Content-Type: text\r\n",
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n", b"--b--\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"X-Fold: a" + b"\r\n b" * 50 + b"\r\n",
)  # fmt: skip


def mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randrange(1, 10)):
        op = rng.randrange(6)
        pos = rng.randrange(len(out) + 1)
        if op == 0:
            del out[pos : pos + rng.randrange(1, 40)]
        elif op == 1:
            out[pos:pos] = rng.choice(_INSERTS)
        elif op == 2:
            del out[pos:]  # truncated
        elif op == 3:  # a delimiter line lost or doubled
            starts = [m.start() for m in re.finditer(rb"(?m)^--", bytes(out))]
            if starts:
                start = rng.choice(starts)
                end = out.find(b"\n", start) + 1 or len(out)
                line = bytes(out[start:end])
                out[start:end] = line * rng.choice((0, 2))
        elif op == 4:
            chunk = bytes(out[rng.randrange(len(out) + 1) :][: rng.randrange(200)])
            out[pos:pos] = chunk
        else:
            out = bytearray(bytes(out).replace(b"\r\n", rng.choice((b"\n", b"\r"))))
    return bytes(out) or b"x"


def numbered_parts(body: Any, path: tuple[int, ...] = ()) -> list[tuple[tuple[int, ...], Any]]:
    """Every (part number, BODYSTRUCTURE node) the way RFC 3501 6.4.5 numbers them."""
    if not path and not isinstance(body[0], list):
        return [((1,), body), *numbered_parts(body, (1,))] if body else []
    out: list[tuple[tuple[int, ...], Any]] = []
    if path and body[:2] == [b"MESSAGE", b"RFC822"] and len(body) > 9:
        inner = body[8]
        if not isinstance(inner[0], list):
            return [((*path, 1), inner), *numbered_parts(inner, (*path, 1))]
        body = inner
    if isinstance(body[0], list):
        kids = body[: next(i for i, k in enumerate(body) if not isinstance(k, list))]
        for index, kid in enumerate(kids, 1):
            out += [((*path, index), kid), *numbered_parts(kid, (*path, index))]
    return out


async def check_message(client: Dialogue, data: bytes) -> None:
    items = await fetch_one(client, b"BODYSTRUCTURE BODY ENVELOPE RFC822.SIZE BODY.PEEK[]")
    whole = items["BODY[]"]
    assert items["RFC822.SIZE"] == len(whole)
    # What the maildir store hands back (LF on disk, CRLF on the wire), NULs as 0x80.
    assert whole == to_wire(to_disk(data)).replace(b"\x00", b"\x80")
    assert isinstance(items["ENVELOPE"], list) and len(items["ENVELOPE"]) == 10
    for path, node in numbered_parts(items["BODYSTRUCTURE"]):
        spec = ".".join(map(str, path)).encode()
        got = await fetch_one(client, b"BODY.PEEK[%s] BODY.PEEK[%s.MIME]" % (spec, spec))
        body, mime = got[f"BODY[{spec.decode()}]"], got[f"BODY[{spec.decode()}.MIME]"]
        assert mime + body in whole, spec
        if isinstance(node[0], list):
            continue
        assert node[6] == len(body), spec
        if node[0] == b"TEXT":
            assert node[7] == body.count(b"\n"), spec
        elif node[:2] == [b"MESSAGE", b"RFC822"]:
            assert node[9] == body.count(b"\n"), spec
            parts = await fetch_one(
                client, b"BODY.PEEK[%s.HEADER] BODY.PEEK[%s.TEXT]" % (spec, spec)
            )
            assert b"".join(parts.values()) == body, spec
    for key in (b"TEXT zzq", b"BODY zzq", b"HEADER Subject zzq", b'SUBJECT ""'):
        _, done = await exchange(client, "q", b"SEARCH " + key)
        assert done.startswith(b"q OK"), (key, done)


async def test_mutated_corpus_through_the_server(imap_lab: ImapLab) -> None:
    rng = random.Random(20241014)
    seeds = [crlf(p.read_bytes()) for p in sorted(CORPUS.glob("*.eml"))]
    client = await imap_lab.login()
    await exchange(client, "s", b"SELECT INBOX")
    for round_ in range(60):
        data = mutate(rng, rng.choice(seeds))
        await exchange(client, "a", b"APPEND INBOX {%d+}\r\n" % len(data) + data)
        try:
            await check_message(client, data)
        except AssertionError as exc:
            raise AssertionError(f"round {round_}: {data!r}") from exc
        await exchange(client, "d", b"STORE 1 +FLAGS.SILENT (\\Deleted)")
        _, done = await exchange(client, "e", b"EXPUNGE")
        assert done.startswith(b"e OK")
