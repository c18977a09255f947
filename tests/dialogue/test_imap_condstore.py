"""CONDSTORE (RFC 7162 3.1) transcripts, after the RFC's examples.

Mod-sequence values are the store's and not predictable, so transcripts
match them with ``*`` and the tests read them back where order matters.
"""

from __future__ import annotations

import re

from mailserver.storage import FlagMode
from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_rfc3501 import Dialogue, ImapLab

imap_lab_factory = harness.imap_lab_factory
imap_lab = harness.imap_lab


def message(number: int) -> bytes:
    return f"From: a@JServer.NetLab\r\nSubject: mail {number}\r\n\r\nbody {number}\r\n".encode()


async def command(client: Dialogue, line: str) -> list[str]:
    """Send a tagged command; every response line up to and including the tagged one."""
    tag = line.split(" ", 1)[0]
    await client.send(line)
    lines = []
    while True:
        got = await client.line()
        lines.append(got)
        if got.startswith(tag + " "):
            return lines


def modseq_of(line: str) -> int:
    match = re.search(r"MODSEQ \((\d+)\)", line)
    assert match, line
    return int(match.group(1))


def highest(lines: list[str]) -> int:
    for line in lines:
        if match := re.search(r"\[HIGHESTMODSEQ (\d+)\]", line):
            return int(match.group(1))
    raise AssertionError(lines)


async def selected(lab: ImapLab, how: str = "SELECT INBOX") -> tuple[Dialogue, list[str]]:
    client = await lab.login()
    lines = await command(client, f"s {how}")
    assert lines[-1].startswith("s OK"), lines
    return client, lines


async def test_capability_and_highestmodseq_in_every_select(imap_lab: ImapLab) -> None:
    await imap_lab.deliver(message(1))
    client = await imap_lab.login()
    caps = await command(client, "c CAPABILITY")
    assert "CONDSTORE" in caps[0].split() and "QRESYNC" in caps[0].split()
    plain = await command(client, "a EXAMINE INBOX")
    condstore = await command(client, "b select inbox (condstore)")
    assert highest(plain) == highest(condstore) > 0
    assert condstore[-1] == "b OK [READ-WRITE] Select completed"
    status = await command(client, "d STATUS INBOX (HIGHESTMODSEQ MESSAGES)")
    assert status[0] == f"* STATUS INBOX (HIGHESTMODSEQ {highest(plain)} MESSAGES 1)"


async def test_fetch_modseq_and_changedsince(imap_lab: ImapLab) -> None:
    for n in range(1, 5):
        await imap_lab.deliver(message(n))
    client, select = await selected(imap_lab, "SELECT INBOX (CONDSTORE)")
    top = highest(select)
    all_four = await command(client, "f FETCH 1:* (MODSEQ)")
    assert len(all_four) == 5
    seqs = [modseq_of(line) for line in all_four[:-1]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4 and seqs[-1] == top
    # Change message 2 and 4 elsewhere; CHANGEDSINCE the old top names just those.
    inbox = await (await imap_lab.store.mailbox("group1_1")).folder("INBOX")
    await inbox.store_flags([2, 4], ["\\Flagged"], FlagMode.ADD)
    changed = await command(client, f"g FETCH 1:* (FLAGS) (CHANGEDSINCE {top})")
    # The refresh before the tagged OK may repeat them as unsolicited FETCHes.
    fetched = [line for line in changed if "FETCH" in line]
    assert fetched[0].startswith("* 2 FETCH (FLAGS (\\Flagged \\Recent) MODSEQ (")
    assert fetched[1].startswith("* 4 FETCH (FLAGS (\\Flagged \\Recent) MODSEQ (")
    assert modseq_of(fetched[0]) > top and modseq_of(fetched[1]) > top
    assert changed[-1] == "g OK FETCH completed"
    uid_form = await command(client, f"h UID FETCH 1:* (FLAGS) (CHANGEDSINCE {top})")
    assert [line.split(" (")[0] for line in uid_form[:-1]] == ["* 2 FETCH", "* 4 FETCH"]
    assert "UID 2" in uid_form[0]
    nothing = await command(client, f"i FETCH 1:* (FLAGS) (CHANGEDSINCE {modseq_of(fetched[1])})")
    assert nothing == ["i OK FETCH completed"]


async def test_conditional_store_rfc_example(imap_lab: ImapLab) -> None:
    """RFC 7162 3.1.3 examples: the changed messages report MODSEQ; others fail with MODIFIED."""
    for n in range(1, 10):
        await imap_lab.deliver(message(n))
    client, select = await selected(imap_lab)
    top = highest(select)
    inbox = await (await imap_lab.store.mailbox("group1_1")).folder("INBOX")
    # Another client changes 7 and 9 after we read the mailbox.
    await inbox.store_flags([7, 9], ["$Label1"], FlagMode.ADD)
    store = f"a105 STORE 7,5,9 (UNCHANGEDSINCE {top}) +FLAGS.SILENT (\\Deleted)"
    lines = await command(client, store)
    assert lines[0].startswith("* 5 FETCH (UID 5 MODSEQ (")
    assert modseq_of(lines[0]) > top
    assert lines[-1] == "a105 OK [MODIFIED 7,9] Conditional STORE failed"
    snap = await inbox.snapshot()
    assert "\\Deleted" in snap.messages[4].flags
    assert "\\Deleted" not in snap.messages[6].flags and "\\Deleted" not in snap.messages[8].flags
    # UID form names UIDs; UNCHANGEDSINCE 0 always fails (RFC 7162 3.1.3).
    lines = await command(client, "a106 UID STORE 1:2 (UNCHANGEDSINCE 0) +FLAGS (\\Seen)")
    assert lines[-1] == "a106 OK [MODIFIED 1:2] Conditional STORE failed"
    current = modseq_of((await command(client, "f FETCH 3 (MODSEQ)"))[0])
    lines = await command(client, f"a107 STORE 3 (UNCHANGEDSINCE {current}) FLAGS (\\Seen)")
    assert re.fullmatch(r"\* 3 FETCH \(FLAGS \(\\Seen \\Recent\) UID 3 MODSEQ \(\d+\)\)", lines[0])
    assert lines[-1] == "a107 OK STORE completed"


async def test_flag_changes_from_others_carry_uid_and_modseq(imap_lab: ImapLab) -> None:
    for n in range(1, 3):
        await imap_lab.deliver(message(n))
    plain, _ = await selected(imap_lab)
    aware, _ = await selected(imap_lab, "SELECT INBOX (CONDSTORE)")
    other, _ = await selected(imap_lab)
    await command(other, "x STORE 2 +FLAGS.SILENT (\\Answered)")
    plain_lines = await command(plain, "n NOOP")
    assert plain_lines == ["* 2 FETCH (FLAGS (\\Answered \\Recent))", "n OK Noop completed"] or (
        plain_lines == ["* 2 FETCH (FLAGS (\\Answered))", "n OK Noop completed"]
    )
    aware_lines = await command(aware, "n NOOP")
    assert re.fullmatch(r"\* 2 FETCH \(UID 2 FLAGS \(\\Answered\) MODSEQ \(\d+\)\)", aware_lines[0])
    # A FETCH that sets \Seen reports the new MODSEQ once CONDSTORE is on.
    lines = await command(aware, "b FETCH 1 (BODY[TEXT])")
    assert re.fullmatch(r"\* 1 FETCH \(UID 1 BODY\[TEXT\] \{8\}", lines[0]), lines
    assert "FLAGS (\\Seen)" in lines[2] and "MODSEQ (" in lines[2]


async def test_fetch_modseq_enables_condstore_implicitly(imap_lab: ImapLab) -> None:
    await imap_lab.deliver(message(1))
    client, _ = await selected(imap_lab)
    other, _ = await selected(imap_lab)
    await command(client, "a FETCH 1 (MODSEQ)")
    await command(other, "x STORE 1 +FLAGS.SILENT (\\Flagged)")
    lines = await command(client, "n NOOP")
    assert lines[0].startswith("* 1 FETCH (UID 1 FLAGS (\\Flagged")
    assert "MODSEQ (" in lines[0]


async def test_search_modseq(imap_lab: ImapLab) -> None:
    for n in range(1, 5):
        await imap_lab.deliver(message(n))
    client, select = await selected(imap_lab)
    top = highest(select)
    inbox = await (await imap_lab.store.mailbox("group1_1")).folder("INBOX")
    await inbox.store_flags([1, 3], ["\\Draft"], FlagMode.ADD)
    snap = await inbox.snapshot()
    await command(client, "n NOOP")
    lines = await command(client, f"a SEARCH MODSEQ {top + 1}")
    assert lines[0] == f"* SEARCH 1 3 (MODSEQ {snap.highest_modseq})"
    lines = await command(client, f'b SEARCH MODSEQ "/flags/\\\\draft" all {top + 1} NOT 1')
    assert lines[0] == f"* SEARCH 3 (MODSEQ {snap.messages[2].modseq})"
    lines = await command(client, f"c UID SEARCH MODSEQ {snap.highest_modseq + 1}")
    assert lines[0] == "* SEARCH"
    lines = await command(client, "d SEARCH MODSEQ x")
    assert lines[-1].startswith("d BAD")


async def test_bad_modifiers(imap_lab: ImapLab) -> None:
    await imap_lab.deliver(message(1))
    client, _ = await selected(imap_lab)
    for line in (
        "a FETCH 1 (FLAGS) (CHANGEDSINCE)",
        "a FETCH 1 (FLAGS) (CHANGEDSINCE 99999999999999999999)",
        "a FETCH 1 (FLAGS) (BOGUS 1)",
        "a FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)",  # needs UID FETCH and QRESYNC
        "a STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)",
        "a STORE 1 (CHANGEDSINCE 5) +FLAGS (\\Seen)",
        "a SELECT INBOX (BOGUS)",
    ):
        lines = await command(client, line)
        assert lines[-1].startswith("a BAD"), (line, lines)


async def test_idle_pushes_flag_changes_with_modseq(imap_lab: ImapLab) -> None:
    await imap_lab.deliver(message(1))
    client, _ = await selected(imap_lab, "SELECT INBOX (CONDSTORE)")
    other, _ = await selected(imap_lab)
    await client.send("i IDLE")
    await client.expect("+ *")
    await command(other, "x STORE 1 +FLAGS.SILENT (\\Flagged)")
    pushed = await client.line()
    assert re.fullmatch(r"\* 1 FETCH \(UID 1 FLAGS \(\\Flagged \\Recent\) MODSEQ \(\d+\)\)", pushed)
    await client.send("DONE")
    assert await client.line() == "i OK IDLE terminated"
