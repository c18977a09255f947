"""FETCH of hostile messages over a real session: the response stays valid IMAP.

A seeded fuzz run mutates the MIME corpus (truncation, lost or doubled
delimiters, line-end games, NULs and 8-bit bytes in headers, odd charsets)
and checks, through the listener, what a client relies on: the session
survives, every response parses, RFC822.SIZE is len(BODY[]), each part's
BODY[n] is as long as its BODYSTRUCTURE size and has its line count, and
BODY[n.MIME] + BODY[n] appear together in the message.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_rfc3501 import Dialogue, ImapLab
from tests.unit.imap.mime.imapdata import _read

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
