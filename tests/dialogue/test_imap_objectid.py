"""OBJECTID (RFC 8474) transcripts after the RFC's examples: MAILBOXID from CREATE,
kept by RENAME, in SELECT and STATUS; EMAILID kept by COPY and MOVE and usable
in SEARCH; THREADID NIL."""

from __future__ import annotations

import re

from mailserver.imap.session import BASE_CAPABILITIES
from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_condstore import command
from tests.dialogue.test_imap_rfc3501 import ImapLab

imap_lab_factory = harness.imap_lab_factory
imap_lab = harness.imap_lab

_OBJECTID = r"[A-Za-z0-9_-]{1,255}"


def test_capability() -> None:
    assert "OBJECTID" in BASE_CAPABILITIES


async def test_mailboxid_survives_rename(imap_lab: ImapLab) -> None:
    client = await imap_lab.login()
    created = await command(client, "3 CREATE foo")
    match = re.fullmatch(rf"3 OK \[MAILBOXID \(({_OBJECTID})\)\] Create completed", created[-1])
    assert match, created
    foo = match.group(1)
    other = (await command(client, "4 CREATE bar"))[-1]
    assert foo not in other and "MAILBOXID" in other
    await client.play(
        f"""
        C: 5 RENAME foo renamed
        S: 5 OK *
        C: 6 STATUS renamed (MAILBOXID MESSAGES)
        S: * STATUS renamed (MAILBOXID ({foo}) MESSAGES 0)
        S: 6 OK Status completed
        C: 7 EXAMINE renamed
        S: * FLAGS *
        S: * OK [PERMANENTFLAGS ()] *
        S: * 0 EXISTS
        S: * 0 RECENT
        S: * OK [UIDVALIDITY *] *
        S: * OK [UIDNEXT 1] *
        S: * OK [HIGHESTMODSEQ *] *
        S: * OK [MAILBOXID ({foo})] Ok
        S: 7 OK [READ-ONLY] Examine completed
        """
    )


async def test_emailid_kept_by_copy_and_move(imap_lab: ImapLab) -> None:
    for n in (1, 2):
        await imap_lab.deliver(f"Subject: m{n}\r\n\r\nbody {n}\r\n".encode())
    client = await imap_lab.login()
    await command(client, "c CREATE foo")
    await command(client, "s SELECT INBOX")
    lines = await command(client, "f FETCH 1:2 (EMAILID THREADID)")
    ids = re.findall(rf"\* \d FETCH \(EMAILID \(({_OBJECTID})\) THREADID NIL\)", "\n".join(lines))
    assert len(ids) == 2 and ids[0] != ids[1], lines
    await client.play(
        f"""
        C: a COPY 1 foo
        S: a OK *
        C: b UID MOVE 2 foo
        S: * OK [COPYUID *] *
        S: * 2 EXPUNGE
        S: b OK *
        C: c SEARCH EMAILID {ids[0]}
        S: * SEARCH 1
        S: c OK SEARCH completed
        C: d SEARCH THREADID T1
        S: * SEARCH
        S: d OK SEARCH completed
        C: e SELECT foo
        """
    )
    while not (await client.line()).startswith("e OK"):
        pass
    await client.play(
        f"""
        C: g FETCH 1:2 (EMAILID)
        S: * 1 FETCH (EMAILID ({ids[0]}))
        S: * 2 FETCH (EMAILID ({ids[1]}))
        S: g OK FETCH completed
        """
    )
