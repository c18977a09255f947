"""CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 4): PARTIAL results, UPDATE contexts with
their ADDTO / REMOVEFROM notifications (after commands and while idling),
NOUPDATE, tag reuse and CANCELUPDATE. Where the RFC leaves room the
expected lines are what Dovecot 2.3 sends (position 0 for SEARCH contexts)."""

from __future__ import annotations

import pytest

from mailserver.imap.contexts import MAX_CONTEXTS
from mailserver.imap.session import BASE_CAPABILITIES
from mailserver.storage import SEEN
from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_condstore import command
from tests.dialogue.test_imap_rfc3501 import Dialogue, ImapLab, LabFactory

imap_lab_factory = harness.imap_lab_factory


def message(subject: str) -> bytes:
    return f"From: a@x.example\r\nSubject: {subject}\r\n\r\nbody\r\n".encode()


@pytest.fixture
async def lab(imap_lab_factory: LabFactory) -> ImapLab:
    lab = await imap_lab_factory()
    # UIDs 1..4, subjects d c b a; 1 and 3 are \Seen.
    for n, subject in enumerate("dcba", 1):
        await lab.deliver(message(subject), (SEEN,) if n % 2 else ())
    return lab


async def selected(lab: ImapLab) -> Dialogue:
    client = await lab.login()
    lines = await command(client, "s SELECT INBOX")
    assert lines[-1].startswith("s OK"), lines
    return client


def test_capabilities() -> None:
    assert "CONTEXT=SEARCH" in BASE_CAPABILITIES and "CONTEXT=SORT" in BASE_CAPABILITIES


async def test_partial_rfc5267_4_4(lab: ImapLab) -> None:
    client = await selected(lab)
    await client.play(
        """
        C: a SEARCH RETURN (PARTIAL 2:3) ALL
        S: * ESEARCH (TAG "a") PARTIAL (2:3 2:3)
        S: a OK SEARCH completed
        C: b SEARCH RETURN (PARTIAL 7:9) ALL
        S: * ESEARCH (TAG "b") PARTIAL (7:9 NIL)
        S: b OK SEARCH completed
        C: c UID SEARCH RETURN (PARTIAL 1:2 COUNT) ALL
        S: * ESEARCH (TAG "c") UID PARTIAL (1:2 1:2) COUNT 4
        S: c OK UID SEARCH completed
        C: d SEARCH RETURN (PARTIAL 3:2) ALL
        S: * ESEARCH (TAG "d") PARTIAL (2:3 2:3)
        S: d OK SEARCH completed
        C: e SORT RETURN (PARTIAL 1:3) (SUBJECT) UTF-8 ALL
        S: * ESEARCH (TAG "e") PARTIAL (1:3 4,3,2)
        S: e OK SORT completed
        C: f SEARCH RETURN (PARTIAL 0:3) ALL
        S: f BAD Invalid PARTIAL range
        """
    )


async def test_search_update_notifications(lab: ImapLab) -> None:
    client = await selected(lab)
    await client.play(
        """
        C: B01 UID SEARCH RETURN (UPDATE) UNSEEN
        S: * ESEARCH (TAG "B01") UID
        S: B01 OK UID SEARCH completed
        C: B02 SEARCH RETURN (UPDATE COUNT) UNSEEN
        S: * ESEARCH (TAG "B02") COUNT 2
        S: B02 OK SEARCH completed
        C: a STORE 2 +FLAGS (\\Seen)
        S: * 2 FETCH (FLAGS (\\Seen \\Recent))
        S: * ESEARCH (TAG "B01") UID REMOVEFROM (0 2)
        S: * ESEARCH (TAG "B02") REMOVEFROM (0 2)
        S: a OK STORE completed
        C: b STORE 4 +FLAGS (\\Deleted)
        S: * 4 FETCH (FLAGS (\\Deleted \\Recent))
        S: b OK STORE completed
        C: c EXPUNGE
        S: * 4 EXPUNGE
        S: * ESEARCH (TAG "B01") UID REMOVEFROM (0 4)
        S: c OK Expunge completed
        C: B01 UID SEARCH RETURN (UPDATE) ALL
        S: B01 BAD Tag reuse
        C: d CANCELUPDATE "B01"
        S: d OK Updates cancelled
        C: e CANCELUPDATE "B01"
        S: e NO Unknown tag
        """
    )
    # New mail: EXISTS first, then the context learns of it.
    await lab.deliver(message("e"))
    await client.play(
        """
        C: f NOOP
        S: * 4 EXISTS
        S: * * RECENT
        S: * ESEARCH (TAG "B02") ADDTO (0 4)
        S: f OK Noop completed
        """
    )


async def test_sort_update_positions(lab: ImapLab) -> None:
    client = await selected(lab)
    await client.play(
        """
        C: C01 UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 ALL
        S: * ESEARCH (TAG "C01") UID ALL 4,3,2,1
        S: C01 OK UID SORT completed
        C: a STORE 3 +FLAGS.SILENT (\\Deleted)
        S: a OK STORE completed
        C: b EXPUNGE
        S: * 3 EXPUNGE
        S: * ESEARCH (TAG "C01") UID REMOVEFROM (2 3)
        S: b OK Expunge completed
        """
    )
    await lab.deliver(message("bb"))  # UID 5: a (4), bb (5), c (2), d (1)
    await client.play(
        """
        C: c NOOP
        S: * 4 EXISTS
        S: * * RECENT
        S: * ESEARCH (TAG "C01") UID ADDTO (2 5)
        S: c OK Noop completed
        """
    )


async def test_updates_arrive_while_idling(lab: ImapLab) -> None:
    client = await selected(lab)
    await client.play(
        """
        C: A01 UID SEARCH RETURN (UPDATE) SUBJECT new
        S: * ESEARCH (TAG "A01") UID
        S: A01 OK UID SEARCH completed
        C: i IDLE
        S: + idling
        """
    )
    await lab.deliver(message("new one"))
    await client.play(
        """
        S: * 5 EXISTS
        S: * * RECENT
        S: * ESEARCH (TAG "A01") UID ADDTO (0 5)
        C: DONE
        S: i OK IDLE terminated
        """
    )


async def test_too_many_contexts_is_noupdate(lab: ImapLab) -> None:
    client = await selected(lab)
    for n in range(MAX_CONTEXTS):
        lines = await command(client, f"u{n} SEARCH RETURN (UPDATE) ALL")
        assert lines[-1] == f"u{n} OK SEARCH completed", lines
    await client.play(
        """
        C: x SEARCH RETURN (UPDATE COUNT) ALL
        S: * NO [NOUPDATE "x"] Too many contexts
        S: * ESEARCH (TAG "x") COUNT 4
        S: x OK SEARCH completed
        C: y UNSELECT
        S: y OK Unselect completed
        """
    )
