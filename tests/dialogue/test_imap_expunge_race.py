"""RFC 2180 4.1/4.2: FETCH and STORE of messages another session expunged.

The session cannot announce the EXPUNGE during FETCH or STORE (RFC 3501
7.4.1), so its view still shows the messages. RFC 2180 allows a tagged NO
or OK; clients (and our benchmark) treat NO as failure, so we answer as
Dovecot does: the surviving messages are served, the ghosts are skipped,
and the tagged reply is OK (FETCH adds ``[EXPUNGEISSUED]``, as Dovecot's
``cmd-fetch.c`` does).
"""

from __future__ import annotations

from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_rfc3501 import Dialogue, ImapLab

imap_lab_factory = harness.imap_lab_factory
imap_lab = harness.imap_lab


def message(number: int) -> bytes:
    return f"From: a@b.example\r\nSubject: m{number}\r\n\r\nbody {number}\r\n".encode()


async def selected(imap_lab: ImapLab) -> Dialogue:
    client = await imap_lab.login()
    await client.send("s SELECT INBOX")
    while not (await client.line()).startswith("s OK"):
        pass
    return client


async def three_then_expunge_second(imap_lab: ImapLab) -> Dialogue:
    """Three messages; a client that selected them; message 2 expunged by another session."""
    for n in range(1, 4):
        await imap_lab.deliver(message(n))
    other = await selected(imap_lab)  # the first to select takes \Recent
    racer = await selected(imap_lab)
    await other.play(
        """
        C: a STORE 2 +FLAGS.SILENT (\\Deleted)
        S: a OK STORE completed
        C: b EXPUNGE
        S: * 2 EXPUNGE
        S: b OK Expunge completed
        """
    )
    return racer


async def test_fetch_of_expunged_message_answers_ok(imap_lab: ImapLab) -> None:
    racer = await three_then_expunge_second(imap_lab)
    await racer.play(
        """
        C: f FETCH 1:3 (UID FLAGS)
        S: * 1 FETCH (UID 1 FLAGS ())
        S: * 3 FETCH (UID 3 FLAGS ())
        S: f OK [EXPUNGEISSUED] Some messages were already expunged
        C: g FETCH 2 (BODY.PEEK[])
        S: g OK [EXPUNGEISSUED] Some messages were already expunged
        C: n NOOP
        S: * 2 EXPUNGE
        S: n OK Noop completed
        C: h FETCH 1:* (UID)
        S: * 1 FETCH (UID 1)
        S: * 2 FETCH (UID 3)
        S: h OK FETCH completed
        """
    )


async def test_store_on_expunged_message_answers_ok(imap_lab: ImapLab) -> None:
    racer = await three_then_expunge_second(imap_lab)
    await racer.play(
        """
        C: s STORE 1:3 +FLAGS (\\Flagged)
        S: * 1 FETCH (FLAGS (\\Flagged))
        S: * 3 FETCH (FLAGS (\\Flagged))
        S: s OK STORE completed
        C: u UID STORE 2 +FLAGS.SILENT (\\Seen)
        S: * 2 EXPUNGE
        S: u OK UID STORE completed
        """
    )
    flags = {m.uid: m.flags for m in (await imap_lab.snapshot()).messages}
    assert flags == {1: frozenset({"\\Flagged"}), 3: frozenset({"\\Flagged"})}


async def test_fetch_of_a_file_removed_under_the_view_answers_ok(imap_lab: ImapLab) -> None:
    """The file vanishes while the store's snapshot still lists it (another server)."""
    for n in range(1, 3):
        await imap_lab.deliver(message(n))
    racer = await selected(imap_lab)
    inbox = imap_lab.config.mail_dir / "group1_1"
    victims = [p for p in inbox.rglob("*") if p.is_file() and p.parent.name in ("cur", "new")]
    victims.sort()
    assert len(victims) == 2
    first = min(victims, key=lambda p: p.stat().st_mtime_ns)
    first.unlink()
    await racer.send("f FETCH 1:2 (BODY.PEEK[TEXT])")
    lines = [await racer.line()]
    while not lines[-1].startswith("f "):
        lines.append(await racer.line())
    assert lines[-1] == "f OK [EXPUNGEISSUED] Some messages were already expunged", lines
    assert any("body 2" in line for line in lines), lines
    assert not any("body 1" in line for line in lines), lines
