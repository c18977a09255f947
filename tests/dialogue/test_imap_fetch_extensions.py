"""PREVIEW (RFC 8970) and SAVEDATE (RFC 8514) transcripts. The expected previews are
what Dovecot 2.3 answers for the same messages (quoted lines dropped, blanks
collapsed, HTML reduced to its text, 200 characters at most)."""

from __future__ import annotations

import re
import time

import pytest

from mailserver.imap.session import BASE_CAPABILITIES
from mailserver.storage import INBOX
from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_condstore import command
from tests.dialogue.test_imap_rfc3501 import Dialogue, ImapLab, LabFactory

imap_lab_factory = harness.imap_lab_factory

MESSAGES = [
    b"Subject: a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"Hello   there,\r\n> quoted line\r\nsecond  line caf\xc3\xa9\r\n-- \r\nsig\r\n",
    b"Subject: b\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n'
    b"Content-Type: text/html\r\n\r\n<html><head><style>x{}</style></head>"
    b"<body><p>Hi &amp; <b>bye</b></p></body></html>\r\n--b--\r\n",
    b"Subject: c\r\n\r\n" + b"word " * 100 + b"\r\n",
    b"Subject: d\r\nContent-Type: image/png\r\n\r\nxxxx\r\n",
]
JAN_2020 = 1577836800.0


@pytest.fixture
async def client(imap_lab_factory: LabFactory) -> Dialogue:
    lab: ImapLab = await imap_lab_factory()
    folder = await (await lab.store.mailbox("group1_1")).folder(INBOX)
    for data in MESSAGES:
        await folder.append(data, internal_date=JAN_2020)
    dialogue = await lab.login()
    lines = await command(dialogue, "s SELECT INBOX")
    assert lines[-1].startswith("s OK"), lines
    return dialogue


def test_capabilities() -> None:
    for name in ("PREVIEW", "PREVIEW=FUZZY", "SNIPPET=FUZZY", "SAVEDATE"):
        assert name in BASE_CAPABILITIES


async def test_preview_rfc8970(client: Dialogue) -> None:
    await client.send("a FETCH 1 (PREVIEW)")
    assert await client.line() == "* 1 FETCH (PREVIEW {37}"
    assert await client.read(37) == "Hello there, second line café -- sig".encode()
    await client.play(
        f"""
        S: )
        S: a OK FETCH completed
        C: b FETCH 2:4 (PREVIEW (LAZY))
        S: * 2 FETCH (PREVIEW "Hi & bye")
        S: * 3 FETCH (PREVIEW "{" ".join(["word"] * 40)}")
        S: * 4 FETCH (PREVIEW "")
        S: b OK FETCH completed
        C: c FETCH 1 (PREVIEW (FOO))
        S: c BAD Unknown preview modifier
        C: d FETCH 2 (PREVIEW (FUZZY) SNIPPET)
        S: * 2 FETCH (PREVIEW (FUZZY "Hi & bye") SNIPPET (FUZZY "Hi & bye"))
        S: d OK FETCH completed
        C: d2 FETCH 3 (SNIPPET (FUZZY))
        S: * 3 FETCH (SNIPPET (FUZZY "word *"))
        S: d2 OK FETCH completed
        C: e FETCH 2 (SNIPPET (LAZY))
        S: e BAD Unknown preview modifier
        """
    )


async def test_savedate_rfc8514(client: Dialogue) -> None:
    lines = await command(client, "a FETCH 1:4 (SAVEDATE INTERNALDATE)")
    assert lines[-1] == "a OK FETCH completed", lines
    for line in lines[:-1]:
        match = re.search(r'SAVEDATE "([^"]+)" INTERNALDATE "01-Jan-2020', line)
        assert match, line
        saved = time.mktime(time.strptime(match.group(1)[:20], "%d-%b-%Y %H:%M:%S"))
        assert abs(saved - time.time()) < 3 * 3600 + 86400, line  # today, whatever the zone
    await client.play(
        """
        C: b SEARCH SAVEDSINCE 1-Jan-2021
        S: * SEARCH 1 2 3 4
        S: b OK SEARCH completed
        C: c SEARCH SAVEDBEFORE 1-Jan-2021
        S: * SEARCH
        S: c OK SEARCH completed
        C: d SEARCH BEFORE 1-Jan-2021 SAVEDATESUPPORTED
        S: * SEARCH 1 2 3 4
        S: d OK SEARCH completed
        """
    )
