"""QRESYNC (RFC 7162 3.2) transcripts: a client that comes back after changes resyncs in SELECT."""

from __future__ import annotations

import re

from mailserver.storage import FlagMode
from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_condstore import command, highest, message, modseq_of
from tests.dialogue.test_imap_rfc3501 import Dialogue, ImapLab

imap_lab_factory = harness.imap_lab_factory
imap_lab = harness.imap_lab


def uidvalidity(lines: list[str]) -> int:
    for line in lines:
        if match := re.search(r"\[UIDVALIDITY (\d+)\]", line):
            return int(match.group(1))
    raise AssertionError(lines)


async def enabled(lab: ImapLab) -> Dialogue:
    client = await lab.login()
    lines = await command(client, "e ENABLE QRESYNC")
    assert re.fullmatch(r"\* ENABLED.* QRESYNC.*", lines[0]), lines
    assert lines[-1] == "e OK Enable completed"
    return client


async def test_select_qresync_reports_only_what_changed(imap_lab: ImapLab) -> None:
    for n in range(1, 11):
        await imap_lab.deliver(message(n))
    first = await enabled(imap_lab)
    select = await command(first, "s SELECT INBOX")
    remembered, validity = highest(select), uidvalidity(select)
    await command(first, "z LOGOUT")

    # Meanwhile on the other PC: two deleted, one flagged, one new.
    other = await imap_lab.login()
    await command(other, "s SELECT INBOX")
    await command(other, "a STORE 3:4 +FLAGS.SILENT (\\Deleted)")
    await command(other, "b EXPUNGE")
    await command(other, "c STORE 5 +FLAGS.SILENT (\\Flagged)")  # seq 5 is UID 7 now
    await imap_lab.deliver(message(11))

    back = await enabled(imap_lab)
    lines = await command(back, f"s SELECT INBOX (QRESYNC ({validity} {remembered} 1:10))")
    assert "* 9 EXISTS" in lines
    vanished = lines.index("* VANISHED (EARLIER) 3:4")
    fetches = [line for line in lines if " FETCH " in line]
    assert re.fullmatch(r"\* 5 FETCH \(UID 7 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)", fetches[0])
    assert re.fullmatch(r"\* 9 FETCH \(UID 11 FLAGS \(\\Recent\) MODSEQ \(\d+\)\)", fetches[1])
    assert len(fetches) == 2 and lines.index(fetches[0]) > vanished
    assert lines[-1] == "s OK [READ-WRITE] Select completed"
    # Nothing changed since: an immediate resync from the new HIGHESTMODSEQ is empty.
    again = await enabled(imap_lab)
    now = highest(lines)
    lines = await command(again, f"s EXAMINE INBOX (QRESYNC ({validity} {now}))")
    assert not any("VANISHED" in line or "FETCH" in line for line in lines), lines


async def test_qresync_with_wrong_uidvalidity_is_a_plain_select(imap_lab: ImapLab) -> None:
    await imap_lab.deliver(message(1))
    client = await enabled(imap_lab)
    lines = await command(client, "s SELECT INBOX (QRESYNC (1 1 1:5 (1:2 1:2)))")
    assert lines[-1] == "s OK [READ-WRITE] Select completed"
    assert not any("VANISHED" in line or "FETCH" in line for line in lines), lines


async def test_qresync_needs_enable_and_closed_is_sent(imap_lab: ImapLab) -> None:
    client = await imap_lab.login()
    lines = await command(client, "a SELECT INBOX (QRESYNC (1 1))")
    assert lines == ["a BAD QRESYNC is not enabled"]
    await command(client, "e ENABLE QRESYNC")
    await command(client, "b SELECT INBOX")
    lines = await command(client, "c EXAMINE INBOX")
    assert lines[0] == "* OK [CLOSED] Previous mailbox closed"


async def test_vanished_replaces_expunge(imap_lab: ImapLab) -> None:
    for n in range(1, 6):
        await imap_lab.deliver(message(n))
    client = await enabled(imap_lab)
    await command(client, "s SELECT INBOX")
    other = await imap_lab.login()
    await command(other, "s SELECT INBOX")
    lines = await command(client, "a STORE 2,4 +FLAGS.SILENT (\\Deleted)")
    assert all("MODSEQ" in line for line in lines[:-1]) and len(lines) == 3
    assert (await command(client, "b EXPUNGE"))[:-1] == ["* VANISHED 2,4"]
    # The other session, without QRESYNC, still gets classic EXPUNGEs.
    assert (await command(other, "n NOOP"))[:-1] == ["* 2 EXPUNGE", "* 3 EXPUNGE"]
    await command(other, "c STORE 1 +FLAGS.SILENT (\\Deleted)")
    await command(other, "d EXPUNGE")
    assert (await command(client, "n NOOP"))[:-1] == ["* VANISHED 1"]
    lines = await command(client, "f FETCH 1:* (UID)")
    assert lines[:-1] == [
        "* 1 FETCH (UID 3)",
        "* 2 FETCH (UID 5)",
    ]


async def test_uid_fetch_changedsince_vanished(imap_lab: ImapLab) -> None:
    """RFC 7162 3.2.6: VANISHED (EARLIER) for the set, then the changed messages."""
    for n in range(1, 9):
        await imap_lab.deliver(message(n))
    client = await enabled(imap_lab)
    select = await command(client, "s EXAMINE INBOX")
    remembered = highest(select)
    inbox = await (await imap_lab.store.mailbox("group1_1")).folder("INBOX")
    await inbox.expunge([2, 3, 7])
    await inbox.store_flags([5], ["\\Seen"], FlagMode.ADD)
    await command(client, "n NOOP")  # learns of the expunges (VANISHED 2:3,7)
    lines = await command(client, f"a UID FETCH 1:6 (FLAGS) (CHANGEDSINCE {remembered} VANISHED)")
    assert lines[0] == "* VANISHED (EARLIER) 2:3"
    # Unclaimed mail is \Recent to a read-only session too (RFC 3501 2.3.2).
    assert re.fullmatch(r"\* 3 FETCH \(UID 5 FLAGS \(\\Seen \\Recent\) MODSEQ \(\d+\)\)", lines[1])
    assert modseq_of(lines[1]) > remembered
    assert lines[-1] == "a OK UID FETCH completed"
    lines = await command(client, "b FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)")
    assert lines[-1].startswith("b BAD")


async def test_move_and_uid_expunge_report_vanished(imap_lab: ImapLab) -> None:
    for n in range(1, 5):
        await imap_lab.deliver(message(n))
    client = await enabled(imap_lab)
    await command(client, "c CREATE Archive")
    await command(client, "s SELECT INBOX")
    lines = await command(client, "m UID MOVE 2:3 Archive")
    assert "* VANISHED 2:3" in lines and not any("EXPUNGE" in line for line in lines), lines
    await command(client, "d UID STORE 1,4 +FLAGS.SILENT (\\Deleted)")
    lines = await command(client, "x UID EXPUNGE 4")
    assert lines[:-1] == ["* VANISHED 4"]


async def test_expunges_end_with_the_new_highestmodseq(imap_lab: ImapLab) -> None:
    """RFC 7162 3.2.7 and 3.2.9: once QRESYNC is on, an EXPUNGE or UID EXPUNGE that removed
    something completes with ``OK [HIGHESTMODSEQ n]``; MOVE expunges too (RFC 6851 3.3)."""
    for n in range(1, 6):
        await imap_lab.deliver(message(n))
    client = await enabled(imap_lab)
    await command(client, "c CREATE Archive")
    await command(client, "s SELECT INBOX")
    await command(client, "a STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    for line, vanished in (("b EXPUNGE", "* VANISHED 1:2"), ("d UID EXPUNGE 3", None)):
        if vanished is None:
            await command(client, "c UID STORE 3 +FLAGS.SILENT (\\Deleted)")
            vanished = "* VANISHED 3"
        lines = await command(client, line)
        assert lines[:-1] == [vanished], lines
        now = (await imap_lab.snapshot()).highest_modseq
        tag = line.split()[0]
        assert lines[-1].startswith(f"{tag} OK [HIGHESTMODSEQ {now}] "), lines
    lines = await command(client, "m UID MOVE 4 Archive")
    now = (await imap_lab.snapshot()).highest_modseq
    assert lines[-1] == f"m OK [HIGHESTMODSEQ {now}] UID MOVE completed", lines
    # Nothing expunged: nothing to report.
    assert (await command(client, "e EXPUNGE")) == ["e OK Expunge completed"]
