"""Transcripts for the IMAP extensions, modelled on their RFCs' examples: ID, NAMESPACE,
ENABLE, UNSELECT, UIDPLUS, MOVE, ESEARCH, LIST-EXTENDED / LIST-STATUS /
SPECIAL-USE / CHILDREN, IDLE, and the cut-offs for looping clients.

The listener runs in this process (harness in ``test_imap_rfc3501.py``); the
store creates the special-use folders for new accounts, as the server does.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from mailserver.config.model import DEFAULT_SPECIAL_FOLDERS
from mailserver.imap import abuse
from mailserver.imap.commands import idle as idle_module
from mailserver.imap.session import BASE_CAPABILITIES
from mailserver.storage import INBOX, FlagMode
from mailserver.storage.maildir import MaildirStore
from mailserver.storage.maildir.store import check_default_folders
from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_rfc3501 import Dialogue, ImapLab, LabFactory

imap_lab_factory = harness.imap_lab_factory

SPECIAL = [(name, use) for use, name in DEFAULT_SPECIAL_FOLDERS.items()]


def message(number: int) -> bytes:
    return (
        f"Subject: mail {number}\r\nFrom: group1_2@JServer.NetLab\r\n\r\nbody {number}\r\n".encode()
    )


async def with_special_folders(lab: ImapLab) -> ImapLab:
    # Accounts are created on first use, so this applies to every user of the lab.
    lab.store.default_folders = check_default_folders(SPECIAL)
    return lab


@pytest.fixture
async def lab(imap_lab_factory: LabFactory) -> ImapLab:
    return await with_special_folders(await imap_lab_factory())


async def select(client: Dialogue, tag: str, name: str = "INBOX") -> list[str]:
    await client.send(f"{tag} SELECT {name}")
    lines = []
    while not (line := await client.line()).startswith(tag + " "):
        lines.append(line)
    assert line == f"{tag} OK [READ-WRITE] Select completed", (line, lines)
    return lines


async def uidvalidity(lab: ImapLab, folder: str) -> int:
    return (await lab.snapshot(folder=folder)).uidvalidity


# ------------------------------------------------------- small commands


async def test_capabilities_list_every_extension(lab: ImapLab) -> None:
    client = await lab.login()  # before login it is LITERAL- (RFC 7888)
    await client.send("c1 CAPABILITY")
    caps = (await client.line()).split()
    await client.expect("c1 OK Capability completed")
    for name in (
        "IDLE", "UIDPLUS", "MOVE", "UNSELECT", "NAMESPACE", "ID", "ENABLE", "CHILDREN",
        "ESEARCH", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "LITERAL+", "SASL-IR",
    ):  # fmt: skip
        assert name in caps
        assert name in BASE_CAPABILITIES


async def test_id_rfc2971_and_namespace_rfc2342(lab: ImapLab) -> None:
    client = await lab.connect()
    await client.play(
        """
        C: a023 ID ("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited")
        S: * ID ("name" "mailserver" "vendor" "JServer.NetLab lab")
        S: a023 OK ID completed
        C: a024 id nil
        S: * ID ("name" "mailserver" "vendor" "JServer.NetLab lab")
        S: a024 OK ID completed
        C: a025 NAMESPACE
        S: a025 BAD Log in first
        C: L1 LOGIN group1_1 group1_1
        S: L1 OK [CAPABILITY *] Logged in
        C: A001 NAMESPACE
        S: * NAMESPACE (("" "/")) NIL NIL
        S: A001 OK Namespace completed
        C: A002 ID ("name" {4}
        """
    )
    # A literal inside ID is fine too.
    await client.expect("+ Ready for literal data")
    await client.play(
        """
        C: sodr)
        S: * ID ("name" "mailserver" "vendor" "JServer.NetLab lab")
        S: A002 OK ID completed
        """
    )


async def test_enable_rfc5161(lab: ImapLab) -> None:
    client = await lab.connect()
    await client.play(
        """
        C: t1 ENABLE X-GOOD-IDEA
        S: t1 BAD Log in first
        C: L1 LOGIN group1_1 group1_1
        S: L1 OK [CAPABILITY *] Logged in
        C: t2 ENABLE X-GOOD-IDEA X-BAD-IDEA
        S: * ENABLED
        S: t2 OK Enable completed
        C: t3 ENABLE
        S: t3 BAD Missing capability
        C: t4 ENABLE QRESYNC
        S: * ENABLED QRESYNC
        S: t4 OK Enable completed
        C: t5 ENABLE CONDSTORE QRESYNC
        S: * ENABLED
        S: t5 OK Enable completed
        """
    )
    # Asked for together, both are listed though QRESYNC alone implies CONDSTORE.
    other = await lab.login()
    await other.play(
        """
        C: t1 enable qresync condstore x-unknown
        S: * ENABLED QRESYNC CONDSTORE
        S: t1 OK Enable completed
        """
    )


async def test_unselect_rfc3691_keeps_deleted_messages(lab: ImapLab) -> None:
    await lab.deliver(message(1))
    client = await lab.login()
    await select(client, "s1")
    await client.play(
        """
        C: s2 STORE 1 +FLAGS.SILENT (\\Deleted)
        S: s2 OK STORE completed
        C: s3 UNSELECT
        S: s3 OK Unselect completed
        C: s4 UNSELECT
        S: s4 BAD No mailbox selected
        C: s5 FETCH 1 FLAGS
        S: s5 BAD No mailbox selected
        """
    )
    [kept] = (await lab.snapshot()).messages
    assert "\\Deleted" in kept.flags


# ------------------------------------------------------------ UIDPLUS


async def test_uidplus_rfc4315_examples(lab: ImapLab) -> None:
    for n in range(1, 6):
        await lab.deliver(message(n))
    client = await lab.login()
    await client.play(
        """
        C: A001 CREATE meeting
        S: A001 OK [MAILBOXID (*)] Create completed
        """
    )
    meeting = await uidvalidity(lab, "meeting")
    inbox = await uidvalidity(lab, INBOX)
    draft = message(9)
    await client.send(b"A003 APPEND Drafts (\\Seen \\Draft) {%d+}" % len(draft))
    await client.send(draft)
    await client.expect(
        f"A003 OK [APPENDUID {await uidvalidity(lab, 'Drafts')} 1] Append completed"
    )
    await select(client, "A002")
    await client.play(
        f"""
        C: A004 COPY 2:4 meeting
        S: A004 OK [COPYUID {meeting} 2:4 1:3] COPY completed
        C: A005 UID COPY 5,1 meeting
        S: A005 OK [COPYUID {meeting} 1,5 4:5] UID COPY completed
        C: A006 STORE 2:5 +FLAGS.SILENT (\\Deleted)
        S: A006 OK STORE completed
        C: A007 UID EXPUNGE 2:4
        S: * 2 EXPUNGE
        S: * 2 EXPUNGE
        S: * 2 EXPUNGE
        S: A007 OK UID EXPUNGE completed
        C: A008 UID FETCH 1:* (FLAGS)
        S: * 1 FETCH (UID 1 FLAGS (\\Recent))
        S: * 2 FETCH (UID 5 FLAGS (\\Deleted \\Recent))
        S: A008 OK UID FETCH completed
        C: A009 UID EXPUNGE 1
        S: A009 OK UID EXPUNGE completed
        C: A010 COPY 1 nowhere
        S: A010 NO [TRYCREATE] Mailbox does not exist
        """
    )
    copies = await lab.snapshot(folder="meeting")
    assert copies.uids == [1, 2, 3, 4, 5]
    assert inbox == (await lab.snapshot()).uidvalidity
    assert (await lab.snapshot()).uids == [1, 5]


# --------------------------------------------------------------- MOVE


async def test_move_rfc6851_and_the_other_session(lab: ImapLab) -> None:
    for n in range(1, 5):
        await lab.deliver(message(n))
    mover = await lab.login()
    other = await lab.login()
    await select(mover, "m1")
    await select(other, "o1")
    archive = await uidvalidity(lab, "Archive")
    await mover.play(
        f"""
        C: m2 UID MOVE 2:3 Archive
        S: * OK [COPYUID {archive} 2:3 1:2] Moved
        S: * 2 EXPUNGE
        S: * 2 EXPUNGE
        S: m2 OK UID MOVE completed
        C: m3 MOVE 2 Trash
        S: * OK [COPYUID * 4 1] Moved
        S: * 2 EXPUNGE
        S: m3 OK MOVE completed
        C: m4 MOVE 1 Nowhere
        S: m4 NO [TRYCREATE] Mailbox does not exist
        C: m5 MOVE 7 Trash
        S: m5 BAD Invalid message sequence number
        """
    )
    # "Move on one PC, gone on the other."
    await other.play(
        """
        C: o2 NOOP
        S: * 2 EXPUNGE
        S: * 2 EXPUNGE
        S: * 2 EXPUNGE
        S: o2 OK Noop completed
        """
    )
    assert (await lab.snapshot()).uids == [1]
    assert len((await lab.snapshot(folder="Archive")).messages) == 2
    await mover.send("m6 EXAMINE Archive")
    while not (line := await mover.line()).startswith("m6 "):
        assert not line.startswith("* 2 EXISTS") or line == "* 2 EXISTS"
    assert line == "m6 OK [READ-ONLY] Examine completed"
    await mover.play(
        """
        C: m7 MOVE 1 INBOX
        S: m7 NO [READ-ONLY] Mailbox is read-only (EXAMINE)
        """
    )


async def test_move_and_copy_read_sequence_numbers_as_the_client_knows_them(
    lab: ImapLab,
) -> None:
    """An expunge by another session is announced after MOVE/COPY, not before.

    The client numbered its command before it could see a ``* 1 EXPUNGE``;
    resolving ``2`` after announcing it would move the client's message 3.
    """
    for n in range(1, 5):
        await lab.deliver(message(n))
    mover = await lab.login()
    other = await lab.login()
    await select(mover, "m1")
    await select(other, "o1")
    await other.play(
        """
        C: o2 STORE 1 +FLAGS.SILENT (\\Deleted)
        S: o2 OK STORE completed
        C: o3 EXPUNGE
        S: * 1 EXPUNGE
        S: o3 OK Expunge completed
        """
    )
    archive = await uidvalidity(lab, "Archive")
    trash = await uidvalidity(lab, "Trash")
    await mover.play(
        f"""
        C: m2 MOVE 2 Archive
        S: * OK [COPYUID {archive} 2 1] Moved
        S: * 1 EXPUNGE
        S: * 1 EXPUNGE
        S: m2 OK MOVE completed
        C: m3 FETCH 1:* (UID)
        S: * 1 FETCH (UID 3)
        S: * 2 FETCH (UID 4)
        S: m3 OK FETCH completed
        """
    )
    await other.play(
        """
        C: o4 NOOP
        S: * 1 EXPUNGE
        S: o4 OK Noop completed
        C: o5 STORE 1 +FLAGS.SILENT (\\Deleted)
        S: o5 OK STORE completed
        C: o6 EXPUNGE
        S: * 1 EXPUNGE
        S: o6 OK Expunge completed
        """
    )
    await mover.play(
        f"""
        C: m4 COPY 2 Trash
        S: * 1 EXPUNGE
        S: m4 OK [COPYUID {trash} 4 1] COPY completed
        """
    )


# ------------------------------------------------------------ ESEARCH


async def test_esearch_rfc4731(lab: ImapLab) -> None:
    for n in range(1, 6):
        await lab.deliver(message(n), ("\\Flagged",) if n in (2, 3, 5) else ())
    client = await lab.login()
    await select(client, "A1")
    await client.play(
        """
        C: A282 SEARCH RETURN (MIN COUNT) FLAGGED
        S: * ESEARCH (TAG "A282") MIN 2 COUNT 3
        S: A282 OK SEARCH completed
        C: A283 SEARCH RETURN () FLAGGED
        S: * ESEARCH (TAG "A283") ALL 2:3,5
        S: A283 OK SEARCH completed
        C: A284 search return (max) not flagged
        S: * ESEARCH (TAG "A284") MAX 4
        S: A284 OK SEARCH completed
        C: A285 UID SEARCH RETURN (MIN MAX COUNT ALL) DELETED
        S: * ESEARCH (TAG "A285") UID COUNT 0
        S: A285 OK UID SEARCH completed
        C: A286 SEARCH RETURN (BOGUS) ALL
        S: A286 BAD Unknown search return option
        C: A287 SEARCH FLAGGED
        S: * SEARCH 2 3 5
        S: A287 OK SEARCH completed
        """
    )
    await client.play(
        """
        C: A288 STORE 1:2 +FLAGS.SILENT (\\Deleted)
        S: A288 OK STORE completed
        C: A289 EXPUNGE
        S: * 1 EXPUNGE
        S: * 1 EXPUNGE
        S: A289 OK Expunge completed
        C: A290 UID SEARCH RETURN (ALL COUNT) FLAGGED
        S: * ESEARCH (TAG "A290") UID COUNT 2 ALL 3,5
        S: A290 OK UID SEARCH completed
        """
    )


# ------------------------------------------------- LIST and friends


async def test_new_account_lists_special_use_folders_subscribed(lab: ImapLab) -> None:
    client = await lab.login()
    await client.play(
        """
        C: A1 LIST "" "*"
        S: * LIST (\\HasNoChildren) "/" INBOX
        S: * LIST (\\HasNoChildren \\Archive) "/" Archive
        S: * LIST (\\HasNoChildren \\Drafts) "/" Drafts
        S: * LIST (\\HasNoChildren \\Junk) "/" Junk
        S: * LIST (\\HasNoChildren \\Sent) "/" Sent
        S: * LIST (\\HasNoChildren \\Trash) "/" Trash
        S: A1 OK LIST completed
        C: A2 LSUB "" "*"
        S: * LSUB () "/" INBOX
        S: * LSUB () "/" Archive
        S: * LSUB () "/" Drafts
        S: * LSUB () "/" Junk
        S: * LSUB () "/" Sent
        S: * LSUB () "/" Trash
        S: A2 OK LSUB completed
        C: t1 LIST (SPECIAL-USE) "" "*" RETURN (SUBSCRIBED)
        S: * LIST (\\HasNoChildren \\Subscribed \\Archive) "/" Archive
        S: * LIST (\\HasNoChildren \\Subscribed \\Drafts) "/" Drafts
        S: * LIST (\\HasNoChildren \\Subscribed \\Junk) "/" Junk
        S: * LIST (\\HasNoChildren \\Subscribed \\Sent) "/" Sent
        S: * LIST (\\HasNoChildren \\Subscribed \\Trash) "/" Trash
        S: t1 OK LIST completed
        C: t2 LIST "" "%" RETURN (SPECIAL-USE)
        S: * LIST (\\HasNoChildren) "/" INBOX
        S: * LIST (\\HasNoChildren \\Archive) "/" Archive
        S: * LIST (\\HasNoChildren \\Drafts) "/" Drafts
        S: * LIST (\\HasNoChildren \\Junk) "/" Junk
        S: * LIST (\\HasNoChildren \\Sent) "/" Sent
        S: * LIST (\\HasNoChildren \\Trash) "/" Trash
        S: t2 OK LIST completed
        """
    )


async def test_list_extended_rfc5258(lab: ImapLab) -> None:
    client = await lab.login()
    await client.play(
        """
        C: A0 CREATE Fruit/Apple
        S: A0 OK [MAILBOXID (*)] Create completed
        C: A1 CREATE Fruit/Banana
        S: A1 OK [MAILBOXID (*)] Create completed
        C: A2 CREATE Tofu
        S: A2 OK [MAILBOXID (*)] Create completed
        C: A3 SUBSCRIBE Fruit/Banana
        S: A3 OK Subscribe completed
        C: A4 SUBSCRIBE Fruit/Peach
        S: A4 OK Subscribe completed
        C: A5 LIST (SUBSCRIBED) "" "Fruit/*"
        S: * LIST (\\HasNoChildren \\Subscribed) "/" Fruit/Banana
        S: * LIST (\\NonExistent \\Subscribed) "/" Fruit/Peach
        S: A5 OK LIST completed
        C: A6 LIST () "" "%" RETURN (CHILDREN)
        S: * LIST (\\HasNoChildren) "/" INBOX
        S: * LIST (\\HasNoChildren \\Archive) "/" Archive
        S: * LIST (\\HasNoChildren \\Drafts) "/" Drafts
        S: * LIST (\\HasChildren) "/" Fruit
        S: * LIST (\\HasNoChildren \\Junk) "/" Junk
        S: * LIST (\\HasNoChildren \\Sent) "/" Sent
        S: * LIST (\\HasNoChildren) "/" Tofu
        S: * LIST (\\HasNoChildren \\Trash) "/" Trash
        S: A6 OK LIST completed
        C: A7 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)
        S: * LIST (\\HasNoChildren \\Subscribed) "/" INBOX
        S: * LIST (\\HasNoChildren \\Subscribed \\Archive) "/" Archive
        S: * LIST (\\HasNoChildren \\Subscribed \\Drafts) "/" Drafts
        S: * LIST (\\HasChildren) "/" Fruit ("CHILDINFO" ("SUBSCRIBED"))
        S: * LIST (\\HasNoChildren \\Subscribed \\Junk) "/" Junk
        S: * LIST (\\HasNoChildren \\Subscribed \\Sent) "/" Sent
        S: * LIST (\\HasNoChildren \\Subscribed \\Trash) "/" Trash
        S: A7 OK LIST completed
        C: A8 LIST "" ("Fruit/%" "t*")
        S: * LIST (\\HasNoChildren) "/" Fruit/Apple
        S: * LIST (\\HasNoChildren) "/" Fruit/Banana
        S: A8 OK LIST completed
        C: A9 LIST "" ("inbox" "T%")
        S: * LIST (\\HasNoChildren) "/" INBOX
        S: * LIST (\\HasNoChildren) "/" Tofu
        S: * LIST (\\HasNoChildren \\Trash) "/" Trash
        S: A9 OK LIST completed
        C: B1 LIST (RECURSIVEMATCH) "" "%"
        S: B1 BAD RECURSIVEMATCH needs another selection option
        C: B2 LIST (BOGUS) "" "%"
        S: B2 BAD Unknown selection option
        C: B3 LIST "" ""
        S: * LIST (\\Noselect) "/" ""
        S: B3 OK LIST completed
        C: B4 LIST "Fruit/" "%"
        S: * LIST (\\HasNoChildren) "/" Fruit/Apple
        S: * LIST (\\HasNoChildren) "/" Fruit/Banana
        S: B4 OK LIST completed
        """
    )


async def test_children_are_exact_after_delete_and_rename(lab: ImapLab) -> None:
    client = await lab.login()
    await client.play(
        """
        C: A1 CREATE a/b/c
        S: A1 OK [MAILBOXID (*)] Create completed
        C: A2 LIST "" "a*"
        S: * LIST (\\HasChildren) "/" a
        S: * LIST (\\HasChildren) "/" a/b
        S: * LIST (\\HasNoChildren) "/" a/b/c
        S: A2 OK LIST completed
        C: A3 DELETE a/b/c
        S: A3 OK Delete completed
        C: A4 LIST "" "a*"
        S: * LIST (\\HasChildren) "/" a
        S: * LIST (\\HasNoChildren) "/" a/b
        S: A4 OK LIST completed
        C: A5 RENAME a/b x
        S: A5 OK Rename completed
        C: A6 LIST "" "%"
        S: * LIST (\\HasNoChildren) "/" INBOX
        S: * LIST (\\HasNoChildren \\Archive) "/" Archive
        S: * LIST (\\HasNoChildren \\Drafts) "/" Drafts
        S: * LIST (\\HasNoChildren \\Junk) "/" Junk
        S: * LIST (\\HasNoChildren \\Sent) "/" Sent
        S: * LIST (\\HasNoChildren \\Trash) "/" Trash
        S: * LIST (\\HasNoChildren) "/" a
        S: * LIST (\\HasNoChildren) "/" x
        S: A6 OK LIST completed
        """
    )


async def test_lsub_names_an_unsubscribed_parent_only_for_percent(lab: ImapLab) -> None:
    """RFC 3501 6.3.9: ``LSUB "" %`` must return ``foo`` (\\Noselect) for a subscribed
    ``foo/bar``; ``*`` matches ``foo/bar`` itself, so ``foo`` is not listed (it would
    show an unsubscribed, selectable folder to LSUB clients as subscribed and \\Noselect)."""
    client = await lab.login()
    await client.play(
        """
        C: a1 CREATE foo/bar/baz
        S: a1 OK [MAILBOXID (*)] Create completed
        C: a2 UNSUBSCRIBE INBOX
        S: a2 OK Unsubscribe completed
        C: a3 SUBSCRIBE foo/bar/baz
        S: a3 OK Subscribe completed
        C: a4 LSUB "" "f*"
        S: * LSUB () "/" foo/bar/baz
        S: a4 OK LSUB completed
        C: a5 LSUB "" "f%"
        S: * LSUB (\\Noselect) "/" foo
        S: a5 OK LSUB completed
        C: a6 LSUB "foo/" "%"
        S: * LSUB (\\Noselect) "/" foo/bar
        S: a6 OK LSUB completed
        C: a7 LSUB "" "foo/%/baz"
        S: * LSUB () "/" foo/bar/baz
        S: a7 OK LSUB completed
        """
    )


async def test_list_status_rfc5819(lab: ImapLab) -> None:
    await lab.deliver(message(1))
    await lab.deliver(message(2), ("\\Seen",))
    await lab.deliver(message(3), folder="Sent")
    client = await lab.login()
    await client.play(
        """
        C: A01 LIST "" % RETURN (STATUS (MESSAGES UNSEEN))
        S: * LIST (\\HasNoChildren) "/" INBOX
        S: * STATUS INBOX (MESSAGES 2 UNSEEN 1)
        S: * LIST (\\HasNoChildren \\Archive) "/" Archive
        S: * STATUS Archive (MESSAGES 0 UNSEEN 0)
        S: * LIST (\\HasNoChildren \\Drafts) "/" Drafts
        S: * STATUS Drafts (MESSAGES 0 UNSEEN 0)
        S: * LIST (\\HasNoChildren \\Junk) "/" Junk
        S: * STATUS Junk (MESSAGES 0 UNSEEN 0)
        S: * LIST (\\HasNoChildren \\Sent) "/" Sent
        S: * STATUS Sent (MESSAGES 1 UNSEEN 1)
        S: * LIST (\\HasNoChildren \\Trash) "/" Trash
        S: * STATUS Trash (MESSAGES 0 UNSEEN 0)
        S: A01 OK LIST completed
        C: A02 CREATE Shared/Team
        S: A02 OK [MAILBOXID (*)] Create completed
        C: A03 SUBSCRIBE Gone
        S: A03 OK Subscribe completed
        C: A04 LIST (SUBSCRIBED) "" ("G*" "Shared/*") RETURN (STATUS (UIDNEXT))
        S: * LIST (\\NonExistent \\Subscribed) "/" Gone
        S: A04 OK LIST completed
        C: A05 LIST "" "Shared*" RETURN (STATUS (MESSAGES))
        S: * LIST (\\HasChildren) "/" Shared
        S: * STATUS Shared (MESSAGES 0)
        S: * LIST (\\HasNoChildren) "/" Shared/Team
        S: * STATUS Shared/Team (MESSAGES 0)
        S: A05 OK LIST completed
        """
    )


async def test_modified_utf7_names_in_list(lab: ImapLab) -> None:
    client = await lab.login()
    await client.play(
        """
        C: A1 CREATE "&ZeVnLIqe-/&U,BTFw-"
        S: A1 OK [MAILBOXID (*)] Create completed
        C: A2 LIST "" "&ZeVnLIqe-*"
        S: * LIST (\\HasChildren) "/" &ZeVnLIqe-
        S: * LIST (\\HasNoChildren) "/" &ZeVnLIqe-/&U,BTFw-
        S: A2 OK LIST completed
        """
    )
    names = await (await lab.store.mailbox("group1_1")).list_folders()
    assert "日本語/台北" in names


# --------------------------------------------------------------- IDLE


async def collect(client: Dialogue, wanted: set[str], limit: int = 12) -> bool:
    """Read untagged lines until each of ``wanted`` was seen (others: keepalives only)."""
    missing = set(wanted)
    for _ in range(limit):
        line = await client.line()
        assert line in wanted or line == "* OK Still here", line
        missing.discard(line)
        if not missing:
            return True
    return False


@pytest.fixture
def quick_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idle_module, "POLL_INTERVAL", 0.3)
    monkeypatch.setattr(idle_module, "KEEPALIVE_INTERVAL", 0.5)


async def test_idle_rfc2177_pushes_changes_from_other_sessions(lab: ImapLab) -> None:
    await lab.deliver(message(1))
    await lab.deliver(message(2))
    watcher = await lab.login()
    await select(watcher, "w1")
    await watcher.play(
        """
        C: A002 IDLE
        S: + idling
        """
    )
    # New mail delivered (SMTP does exactly this append).
    await lab.deliver(message(3))
    await watcher.play(
        """
        S: * 3 EXISTS
        S: * 3 RECENT
        """
    )
    # Another session changes flags and expunges.
    actor = await lab.login()
    await select(actor, "a1")
    await actor.play(
        """
        C: a2 STORE 1 +FLAGS (\\Seen)
        S: * 1 FETCH (FLAGS (\\Seen*))
        S: a2 OK STORE completed
        """
    )
    await watcher.expect("* 1 FETCH (FLAGS (\\Seen \\Recent))")
    await actor.play(
        """
        C: a3 STORE 2 +FLAGS.SILENT (\\Deleted)
        S: a3 OK STORE completed
        C: a4 EXPUNGE
        S: * 2 EXPUNGE
        S: a4 OK Expunge completed
        """
    )
    # The flag change may or may not be seen before the expunge: both are fine.
    line = await watcher.line()
    if line.startswith("* 2 FETCH"):
        assert line == "* 2 FETCH (FLAGS (\\Deleted \\Recent))"
        line = await watcher.line()
    assert line == "* 2 EXPUNGE"
    await watcher.play(
        """
        C: DONE
        S: A002 OK IDLE terminated
        C: A003 FETCH 1:* (FLAGS)
        S: * 1 FETCH (FLAGS (\\Seen \\Recent))
        S: * 2 FETCH (FLAGS (\\Recent))
        S: A003 OK FETCH completed
        """
    )


async def test_idle_polls_for_other_processes_and_keeps_alive(
    lab: ImapLab, quick_idle: None
) -> None:
    client = await lab.login()
    await select(client, "s1")
    await client.play(
        """
        C: A1 idle
        S: + idling
        """
    )
    # Another process (its own store object) delivers: no notification reaches
    # this process, only the periodic re-read finds it.
    elsewhere = MaildirStore(lab.config.mail_dir)
    inbox = await (await elsewhere.mailbox("group1_1")).folder(INBOX)
    await inbox.append(message(1))
    assert await collect(client, {"* 1 EXISTS", "* 1 RECENT", "* OK Still here"})
    await inbox.store_flags([1], ["\\Flagged"], FlagMode.ADD)
    assert await collect(client, {"* 1 FETCH (FLAGS (\\Flagged \\Recent))"})
    await client.play(
        """
        C: done
        S: A1 OK IDLE terminated
        """
    )


async def test_idle_in_authenticated_state_and_bad_ending(lab: ImapLab, quick_idle: None) -> None:
    client = await lab.login()
    await client.play(
        """
        C: A1 IDLE
        S: + idling
        S: * OK Still here
        C: DONE
        S: A1 OK IDLE terminated
        C: A2 IDLE
        S: + idling
        C: A3 NOOP
        S: A2 BAD Expected DONE
        C: A4 NOOP
        S: A4 OK Noop completed
        """
    )


async def test_idle_ends_with_bye_at_shutdown(lab: ImapLab) -> None:
    client = await lab.login()
    await client.play(
        """
        C: A1 IDLE
        S: + idling
        """
    )
    await lab.sessions.shutdown(1.0)
    await client.expect("* BYE Server shutting down")
    assert await client.closed()


async def test_idle_times_out_with_bye(imap_lab_factory: LabFactory) -> None:
    base = await imap_lab_factory()
    lab = await with_special_folders(
        await imap_lab_factory(timeouts=replace(base.config.timeouts, imap=0.5))
    )
    client = await lab.login()
    await client.play(
        """
        C: A1 IDLE
        S: + idling
        S: * BYE Autologout; idle for too long
        """
    )
    assert await client.closed()


# ------------------------------------------------------------- cut-offs


async def test_select_loop_is_cut_off(lab: ImapLab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(abuse, "SELECT_LOOP_LIMIT", 5)
    client = await lab.login()
    # Walking through folders is fine however fast.
    for n in range(8):
        await select(client, f"w{n}", "Sent" if n % 2 else "INBOX")
    for n in range(5):
        await select(client, f"s{n}")
    await client.send("s5 SELECT INBOX")
    await client.expect("* BYE Too many SELECTs of the same mailbox")
    assert await client.closed()


async def test_bad_commands_between_good_ones_are_cut_off(imap_lab_factory: LabFactory) -> None:
    base = await imap_lab_factory()
    lab = await imap_lab_factory(limits=replace(base.config.limits, max_bad_commands=2))
    client = await lab.connect()
    # Each NOOP resets the count of BADs in a row; the rate still catches it.
    for n in range(2 * abuse.BAD_RATE_FACTOR):
        await client.send(f"b{n} FOO")
        await client.expect(f"b{n} BAD Unknown command")
        await client.send(f"n{n} NOOP")
        await client.expect(f"n{n} OK Noop completed")
    await client.send("x BAR")
    await client.expect("x BAD Unknown command")
    await client.expect("* BYE Too many invalid commands")
    assert await client.closed()
