"""SORT (RFC 5256, DISPLAY keys of RFC 5957), ESORT (RFC 5267) and THREAD (RFC 5256)
transcripts, after the RFCs' examples, over a small folder of related messages.

The folder: a thread "hello" (1 <- 2 <- 4, 1 <- 3), "other" (5) with an
unlinked reply by subject (8), and two replies (6, 7) to a message that is
not in the folder. Dates ascend with the message number.
"""

from __future__ import annotations

import pytest

from mailserver.imap.session import BASE_CAPABILITIES
from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_condstore import command
from tests.dialogue.test_imap_rfc3501 import Dialogue, ImapLab, LabFactory

imap_lab_factory = harness.imap_lab_factory

# (message-id, references, subject, from, to, date day)
MESSAGES = [
    ("1", "", "hello", "Zoe <zoe@b.example>", "a@x.example", 1),
    ("2", "<1>", "Re: hello", "Adam <yann@a.example>", "c@x.example", 2),
    ("3", "<1>", "RE: [list] hello", "Carl <xavier@c.example>", "b@x.example", 3),
    ("4", "<1> <2>", "Re: Re: hello", "bob@d.example", "e@x.example", 4),
    ("5", "", "other", "=?utf-8?q?=C3=89mile?= <w@e.example>", "d@x.example", 5),
    ("6", "<gone>", "Re: lost", "Dora <v@f.example>", "g@x.example", 6),
    ("7", "<gone>", "Re: lost (fwd)", "eve@g.example", "f@x.example", 7),
    ("8", "", "Re: other", "Fay <u@h.example>", "h@x.example", 8),
]


def message(mid: str, refs: str, subject: str, sender: str, to: str, day: int) -> bytes:
    lines = [
        f"Message-ID: <{mid}>",
        f"Date: {day:02d} Mar 2000 12:00:00 +0000",
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
    ]
    if refs:
        lines.append(f"References: {refs}")
    return ("\r\n".join(lines) + f"\r\n\r\nbody {mid}\r\n").encode()


@pytest.fixture
async def client(imap_lab_factory: LabFactory) -> Dialogue:
    lab: ImapLab = await imap_lab_factory()
    # Delivered in order: UID n is message n.
    for item in MESSAGES:
        await lab.deliver(message(*item))
    dialogue = await lab.login()
    lines = await command(dialogue, "s SELECT INBOX")
    assert lines[-1].startswith("s OK"), lines
    return dialogue


def test_capabilities_are_advertised() -> None:
    for name in ("SORT", "SORT=DISPLAY", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES", "ESORT"):
        assert name in BASE_CAPABILITIES
    for name in ("THREAD=REFS",):
        assert name in BASE_CAPABILITIES


async def test_sort_rfc5256_examples(client: Dialogue) -> None:
    await client.play(
        """
        C: A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994
        S: * SORT 1 2 3 4 6 7 5 8
        S: A282 OK SORT completed
        C: A283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL
        S: * SORT 4 3 2 1 7 6 8 5
        S: A283 OK SORT completed
        C: A284 SORT (SUBJECT) US-ASCII TEXT "not in mailbox"
        S: * SORT
        S: A284 OK SORT completed
        C: A285 SORT (SUBJECT) MUMBLE ALL
        S: A285 NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset
        C: A286 SORT (SUBJECT) UTF-8 (ALL
        S: A286 BAD *
        C: A287 SORT (BOGUS) UTF-8 ALL
        S: A287 BAD Unknown sort key
        """
    )


async def test_sort_keys(client: Dialogue) -> None:
    await client.play(
        """
        C: a SORT (REVERSE ARRIVAL) UTF-8 ALL
        S: * SORT 8 7 6 5 4 3 2 1
        S: a OK SORT completed
        C: b SORT (FROM) UTF-8 ALL
        S: * SORT 4 7 8 6 5 3 2 1
        S: b OK SORT completed
        C: c SORT (DISPLAYFROM) UTF-8 ALL
        S: * SORT 2 4 3 6 7 5 8 1
        S: c OK SORT completed
        C: d SORT (TO) UTF-8 2:5
        S: * SORT 3 2 5 4
        S: d OK SORT completed
        C: e UID SORT (DATE) UTF-8 UID 6:*
        S: * SORT 6 7 8
        S: e OK UID SORT completed
        C: f SORT (CC ARRIVAL) UTF-8 ALL
        S: * SORT 1 2 3 4 5 6 7 8
        S: f OK SORT completed
        """
    )
    sizes = [len(message(*item)) for item in MESSAGES]
    by_size = sorted(range(1, 9), key=lambda n: (-sizes[n - 1], n))
    await client.play(
        f"""
        C: g SORT (REVERSE SIZE) UTF-8 ALL
        S: * SORT {" ".join(map(str, by_size))}
        S: g OK SORT completed
        """
    )


async def test_esort_rfc5267(client: Dialogue) -> None:
    await client.play(
        """
        C: A301 UID SORT RETURN (ALL) (REVERSE DATE) UTF-8 UNDELETED
        S: * ESEARCH (TAG "A301") UID ALL 8,7,6,5,4,3,2,1
        S: A301 OK UID SORT completed
        C: A302 SORT RETURN (MIN MAX COUNT) (DISPLAYFROM) UTF-8 ALL
        S: * ESEARCH (TAG "A302") MIN 2 MAX 1 COUNT 8
        S: A302 OK SORT completed
        C: A303 SORT RETURN () (SUBJECT) UTF-8 ALL
        S: * ESEARCH (TAG "A303") ALL 1:4,6:7,5,8
        S: A303 OK SORT completed
        C: A304 SORT RETURN (MIN) (SUBJECT) UTF-8 TEXT nothing-like-this
        S: * ESEARCH (TAG "A304")
        S: A304 OK SORT completed
        """
    )


async def test_thread_orderedsubject(client: Dialogue) -> None:
    await client.play(
        """
        C: A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000
        S: * THREAD (1 (2)(3)(4))(5 8)(6 7)
        S: A283 OK THREAD completed
        C: A284 THREAD ORDEREDSUBJECT US-ASCII TEXT "gewp"
        S: * THREAD
        S: A284 OK THREAD completed
        C: A285 UID THREAD ORDEREDSUBJECT UTF-8 5:8
        S: * THREAD (5 8)(6 7)
        S: A285 OK UID THREAD completed
        """
    )


async def test_thread_references(client: Dialogue) -> None:
    await client.play(
        """
        C: A285 THREAD REFERENCES UTF-8 ALL
        S: * THREAD (1 (2 4)(3))(5 8)((6)(7))
        S: A285 OK THREAD completed
        C: A286 THREAD REFERENCES UTF-8 NOT 1
        S: * THREAD ((2 4)(3))(5 8)((6)(7))
        S: A286 OK THREAD completed
        C: A287 THREAD FOO UTF-8 ALL
        S: A287 BAD Unknown threading algorithm
        C: A288 THREAD REFS UTF-8 ALL
        S: * THREAD (1 (2 4)(3))(5)((6)(7))(8)
        S: A288 OK THREAD completed
        """
    )
