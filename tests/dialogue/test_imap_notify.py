"""NOTIFY (RFC 5465) transcripts: news of the selected mailbox and of others
arrives without a command, between commands and during IDLE; folder and
subscription changes by another session arrive as LIST responses.

The other side of each change is a second real session or the store itself
(as SMTP delivery uses it). Waits are for a line to arrive, bounded by the
harness's reply timeout, never sleeps.
"""

from __future__ import annotations

import pytest

from mailserver.imap import notify as notify_module
from mailserver.imap.session import BASE_CAPABILITIES
from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_rfc3501 import Dialogue, ImapLab

imap_lab_factory = harness.imap_lab_factory
imap_lab = harness.imap_lab

MESSAGE = b"From: group1_2@JServer.NetLab\r\nSubject: news\r\n\r\nhello\r\n"


async def select(client: Dialogue, tag: str, name: str = "INBOX") -> None:
    await client.send(f"{tag} SELECT {name}")
    while not (line := await client.line()).startswith(tag + " "):
        pass
    assert line.startswith(f"{tag} OK"), line


async def test_notify_selected_and_personal(imap_lab: ImapLab) -> None:
    assert "NOTIFY" in BASE_CAPABILITIES
    mailbox = await imap_lab.store.mailbox("group1_1")
    await mailbox.create_folder("Lists")
    lists_validity = (await imap_lab.snapshot(folder="Lists")).uidvalidity
    client = await imap_lab.login()
    await select(client, "a1")
    await client.play(
        f"""
        C: a2 NOTIFY SET STATUS (SELECTED (MessageNew (UID FLAGS BODY[HEADER.FIELDS (SUBJECT)]) MessageExpunge FlagChange)) (PERSONAL (MessageNew MessageExpunge FlagChange))
        S: * STATUS Lists (MESSAGES 0 UIDNEXT 1 UIDVALIDITY {lists_validity} UNSEEN 0)
        S: a2 OK NOTIFY completed
        """  # noqa: E501
    )
    # New mail in the selected mailbox: EXISTS and the asked-for FETCH, unasked.
    await imap_lab.deliver(MESSAGE)
    await client.play(
        """
        S: * 1 EXISTS
        S: * 1 RECENT
        S: * 1 FETCH (UID 1 FLAGS (\\Recent) BODY[HEADER.FIELDS (SUBJECT)] {17}
        S: Subject: news
        S:
        S: )
        """
    )
    # The news did not mark the message read.
    assert (await imap_lab.snapshot()).messages[0].flags == frozenset()
    # New mail elsewhere: a STATUS, unasked.
    await imap_lab.deliver(MESSAGE, folder="Lists")
    await client.expect(
        f"* STATUS Lists (MESSAGES 1 UIDNEXT 2 UIDVALIDITY {lists_validity} UNSEEN 1)"
    )
    # A flag set by another session on the other folder.
    other = await imap_lab.login()
    await select(other, "b1", "Lists")
    await other.play("C: b2 STORE 1 +FLAGS.SILENT (\\Seen)\nS: b2 OK STORE completed")
    await client.expect(
        f"* STATUS Lists (MESSAGES 1 UIDNEXT 2 UIDVALIDITY {lists_validity} UNSEEN 0)"
    )
    # The session still works normally, and NONE ends the news.
    await client.play(
        """
        C: a3 NOTIFY NONE
        S: a3 OK NOTIFY completed
        """
    )
    await imap_lab.deliver(MESSAGE, folder="Lists")
    await client.play("C: a4 NOOP\nS: a4 OK Noop completed")


async def test_notify_mailbox_name_and_subscription_change(imap_lab: ImapLab) -> None:
    client = await imap_lab.login()
    await client.play(
        """
        C: a1 NOTIFY SET (PERSONAL (MailboxName SubscriptionChange))
        S: a1 OK NOTIFY completed
        """
    )
    other = await imap_lab.login()
    await other.play("C: b1 CREATE Projects\nS: b1 OK [MAILBOXID (*)] Create completed")
    await client.expect('* LIST () "/" Projects')
    await other.play("C: b2 SUBSCRIBE Projects\nS: b2 OK Subscribe completed")
    await client.expect('* LIST (\\Subscribed) "/" Projects')
    await other.play("C: b3 RENAME Projects Done\nS: b3 OK Rename completed")
    await client.expect('* LIST () "/" Done ("OLDNAME" (Projects))')
    await other.play("C: b4 DELETE Done\nS: b4 OK Delete completed")
    await client.expect('* LIST (\\NonExistent) "/" Done')
    # The session's own changes are not echoed back to it.
    await client.play(
        """
        C: a2 CREATE Mine
        S: a2 OK [MAILBOXID (*)] Create completed
        C: a3 NOOP
        S: a3 OK Noop completed
        """
    )


async def test_notify_during_idle(imap_lab: ImapLab) -> None:
    mailbox = await imap_lab.store.mailbox("group1_1")
    await mailbox.create_folder("Lists")
    client = await imap_lab.login()
    await select(client, "a1")
    await client.play(
        """
        C: a2 NOTIFY SET (INBOXES (MessageNew MessageExpunge)) (MAILBOXES Lists (MessageNew MessageExpunge))
        S: a2 OK NOTIFY completed
        C: a3 IDLE
        S: + idling
        """  # noqa: E501
    )
    await imap_lab.deliver(MESSAGE, folder="Lists")
    await client.expect("* STATUS Lists (MESSAGES 1 UIDNEXT 2 UIDVALIDITY *)")
    await client.play("C: DONE\nS: a3 OK IDLE terminated")


async def test_notify_refuses_what_it_cannot_do(imap_lab: ImapLab) -> None:
    client = await imap_lab.login()
    await client.play(
        """
        C: a1 NOTIFY SET (PERSONAL (AnnotationChange))
        S: a1 NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)] Event not supported
        C: a2 NOTIFY SET (PERSONAL (MessageNew))
        S: a2 BAD MessageNew and MessageExpunge must be asked for together
        C: a3 NOTIFY SET (PERSONAL (MessageNew (UID) MessageExpunge))
        S: a3 BAD Fetch attributes are for the selected mailbox only
        C: a3b NOTIFY SET (SELECTED (MessageNew (RFC822) MessageExpunge))
        S: a3b BAD RFC822 and RFC822.TEXT would mark mail read; use BODY.PEEK[]
        C: a4 NOTIFY SET (EVERYTHING (MessageNew))
        S: a4 BAD Unknown mailbox filter EVERYTHING
        C: a5 NOTIFY
        S: a5 BAD Missing argument
        C: a6 NOTIFY SET (SELECTED NONE)
        S: a6 OK NOTIFY completed
        """  # noqa: E501
    )


async def test_notify_follows_a_later_select(imap_lab: ImapLab) -> None:
    """NOTIFY SET before SELECT: the mailbox selected afterwards is the SELECTED one."""
    mailbox = await imap_lab.store.mailbox("group1_1")
    await mailbox.create_folder("Lists")
    client = await imap_lab.login()
    await client.play(
        """
        C: a1 NOTIFY SET (SELECTED (MessageNew MessageExpunge))
        S: a1 OK NOTIFY completed
        """
    )
    await select(client, "a2", "Lists")
    await imap_lab.deliver(MESSAGE, folder="Lists")
    await client.play("S: * 1 EXISTS\nS: * 1 RECENT")
    other = await imap_lab.login()
    await select(other, "b1", "Lists")
    await other.play(
        """
        C: b2 STORE 1 +FLAGS.SILENT (\\Deleted)
        S: b2 OK STORE completed
        C: b3 EXPUNGE
        S: * 1 EXPUNGE
        S: b3 OK Expunge completed
        """
    )
    # The flag change may come first (the view reports flags as IMAP4rev1 does).
    line = await client.line()
    if line.startswith("* 1 FETCH (FLAGS"):
        line = await client.line()
    assert line == "* 1 EXPUNGE"


async def test_notify_overflow_stops_notifications(
    imap_lab: ImapLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More news than the session can hold: one NOTIFICATIONOVERFLOW, then silence
    (RFC 5465 5.8). The limit is set to nothing here so the first change overflows."""
    monkeypatch.setattr(notify_module, "MAX_PENDING_LINES", 0)
    client = await imap_lab.login()
    await client.play("C: a1 NOTIFY SET (PERSONAL (MailboxName))\nS: a1 OK NOTIFY completed")
    other = await imap_lab.login()
    await other.play("C: b1 CREATE One\nS: b1 OK [MAILBOXID (*)] Create completed")
    await client.expect("* OK [NOTIFICATIONOVERFLOW] Too many changes, notifications stopped")
    await other.play("C: b2 CREATE Two\nS: b2 OK [MAILBOXID (*)] Create completed")
    await client.play("C: a2 NOOP\nS: a2 OK Noop completed")
