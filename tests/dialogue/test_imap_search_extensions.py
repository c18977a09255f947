"""SEARCHRES (RFC 5182), WITHIN (RFC 5032) and STATUS=SIZE (RFC 8438), after the
RFCs' examples: small extensions of SEARCH and STATUS, one test group each."""

from __future__ import annotations

import time

import pytest

from mailserver.imap.session import BASE_CAPABILITIES
from mailserver.storage import FLAGGED, INBOX, SEEN
from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_condstore import command
from tests.dialogue.test_imap_rfc3501 import Dialogue, ImapLab, LabFactory

imap_lab_factory = harness.imap_lab_factory

DAY = 86400


def message(n: int, sender: str) -> bytes:
    return f"From: {sender}\r\nSubject: m{n}\r\n\r\nbody {n}\r\n".encode()


@pytest.fixture
async def lab(imap_lab_factory: LabFactory) -> ImapLab:
    lab = await imap_lab_factory()
    folder = await (await lab.store.mailbox("group1_1")).folder(INBOX)
    now = time.time()
    # UID n: arrived n days ago (n=1..6); odd ones flagged; 2 and 5 from Smith.
    for n in range(1, 7):
        sender = "Smith <smith@x.example>" if n in (2, 5) else f"u{n}@x.example"
        flags = [FLAGGED] if n % 2 else [SEEN]
        await folder.append(message(n, sender), flags, internal_date=now - n * DAY)
    return lab


async def selected(lab: ImapLab) -> Dialogue:
    client = await lab.login()
    lines = await command(client, "s SELECT INBOX")
    assert lines[-1].startswith("s OK"), lines
    return client


def test_capabilities() -> None:
    for name in ("SEARCHRES", "WITHIN", "STATUS=SIZE"):
        assert name in BASE_CAPABILITIES


async def test_searchres_rfc5182_examples(lab: ImapLab) -> None:
    client = await selected(lab)
    await client.play(
        """
        C: A282 SEARCH RETURN (SAVE) FLAGGED NOT FROM "Smith"
        S: A282 OK SEARCH completed
        C: A283 FETCH $ (UID)
        S: * 1 FETCH (UID 1)
        S: * 3 FETCH (UID 3)
        S: A283 OK FETCH completed
        C: A284 UID SEARCH $ SEEN
        S: * SEARCH
        S: A284 OK UID SEARCH completed
        C: A285 SEARCH RETURN (SAVE MIN) SEEN
        S: * ESEARCH (TAG "A285") MIN 2
        S: A285 OK SEARCH completed
        C: A286 UID FETCH $ (FLAGS)
        S: * 2 FETCH (UID 2 FLAGS (\\Seen \\Recent))
        S: A286 OK UID FETCH completed
        C: A287 SEARCH RETURN (SAVE COUNT MAX) OR $ FLAGGED
        S: * ESEARCH (TAG "A287") MAX 5 COUNT 4
        S: A287 OK SEARCH completed
        C: A288 STORE $ +FLAGS.SILENT (\\Answered)
        S: A288 OK STORE completed
        C: A289 SEARCH ANSWERED
        S: * SEARCH 1 2 3 5
        S: A289 OK SEARCH completed
        C: A290 SEARCH 1,$
        S: A290 BAD *
        """
    )


async def test_searchres_is_emptied_by_select_and_loses_expunged(lab: ImapLab) -> None:
    client = await selected(lab)
    await client.play(
        """
        C: a SEARCH RETURN (SAVE) 1:3
        S: a OK SEARCH completed
        C: b STORE 2 +FLAGS.SILENT (\\Deleted)
        S: b OK STORE completed
        C: c EXPUNGE
        S: * 2 EXPUNGE
        S: c OK Expunge completed
        C: d UID SEARCH UID $
        S: * SEARCH 1 3
        S: d OK UID SEARCH completed
        C: e SELECT INBOX
        """
    )
    while not (await client.line()).startswith("e OK"):
        pass
    await client.play(
        """
        C: f SEARCH $
        S: * SEARCH
        S: f OK SEARCH completed
        C: g UID SORT RETURN (SAVE) (REVERSE ARRIVAL) UTF-8 FLAGGED
        S: g OK UID SORT completed
        C: h UID SEARCH $
        S: * SEARCH 1 3 5
        S: h OK UID SEARCH completed
        """
    )


async def test_within_rfc5032(lab: ImapLab) -> None:
    client = await selected(lab)
    # UID n arrived n days ago.
    await client.play(
        f"""
        C: a SEARCH YOUNGER {int(3.5 * DAY)}
        S: * SEARCH 1 2 3
        S: a OK SEARCH completed
        C: b SEARCH OLDER {int(3.5 * DAY)}
        S: * SEARCH 4 5 6
        S: b OK SEARCH completed
        C: c SEARCH OLDER {2 * DAY - 60} YOUNGER {5 * DAY - 60} FLAGGED
        S: * SEARCH 3
        S: c OK SEARCH completed
        C: d SEARCH YOUNGER 0
        S: d BAD *
        C: e SEARCH OLDER
        S: e BAD *
        """
    )


async def test_status_size_rfc8438(lab: ImapLab) -> None:
    client = await lab.login()
    total = sum(m.size for m in (await lab.snapshot()).messages)
    assert total > 0
    await client.play(
        f"""
        C: a STATUS INBOX (MESSAGES SIZE)
        S: * STATUS INBOX (MESSAGES 6 SIZE {total})
        S: a OK Status completed
        C: b LIST "" INBOX RETURN (STATUS (SIZE))
        S: * LIST (*) "/" INBOX
        S: * STATUS INBOX (SIZE {total})
        S: b OK LIST completed
        """
    )
