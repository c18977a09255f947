"""QUOTA (RFC 9208) transcripts against a store with a per-user storage limit."""

from __future__ import annotations

from mailserver.config.model import QuotaSettings
from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_condstore import command
from tests.dialogue.test_imap_rfc3501 import ImapLab, LabFactory

imap_lab_factory = harness.imap_lab_factory
imap_lab = harness.imap_lab

#: 10 KiB (10,240 octets) for every user.
LIMIT_MB = 10 / 1024


def sized(octets: int, subject: str = "big") -> bytes:
    head = f"From: a@JServer.NetLab\r\nSubject: {subject}\r\n\r\n".encode()
    body = (b"x" * 70 + b"\r\n") * ((octets - len(head)) // 72)
    return head + body + b"y" * (octets - len(head) - len(body))


async def test_quota_roots_usage_and_refusals(imap_lab_factory: LabFactory) -> None:
    lab = await imap_lab_factory(quota=QuotaSettings(default_mb=LIMIT_MB))
    client = await lab.login()
    caps = (await command(client, "c CAPABILITY"))[0].split()
    assert "QUOTA" in caps and "QUOTA=RES-STORAGE" in caps
    await command(client, "c1 CREATE Drafts")
    await command(client, "c2 CREATE Trash")
    assert (await command(client, "a GETQUOTAROOT INBOX")) == [
        '* QUOTAROOT INBOX ""',
        '* QUOTA "" (STORAGE 0 10)',
        "a OK Getquotaroot completed",
    ]
    await lab.deliver(sized(4000))
    await lab.deliver(sized(4001))
    assert (await command(client, 'b GETQUOTA ""')) == [
        '* QUOTA "" (STORAGE 8 10)',  # 8001 octets round up to 8 KiB
        "b OK Getquota completed",
    ]
    # APPEND that would pass the limit: refused before anything is stored.
    data = sized(3000)
    await client.send(b"d APPEND Drafts (\\Draft) {%d+}" % len(data))
    await client.send(data)
    assert await client.line() == "d NO [OVERQUOTA] Quota exceeded"
    small = sized(500)
    await client.send(b"e APPEND Drafts {%d+}" % len(small))
    await client.send(small)
    assert (await client.line()).startswith("e OK")
    # COPY of the big messages into another folder would double them.
    await command(client, "s SELECT INBOX")
    assert (await command(client, "f COPY 1:2 Trash"))[-1] == "f NO [OVERQUOTA] Quota exceeded"
    assert (await lab.snapshot(folder="Trash")).messages == ()
    assert len((await lab.snapshot()).messages) == 2
    # Deleting frees room (STATUS shows what EXPUNGE would give back, RFC 9208 4.3).
    await command(client, "h STORE 1 +FLAGS.SILENT (\\Deleted)")
    status = await command(client, "i STATUS INBOX (DELETED DELETED-STORAGE MESSAGES)")
    assert status[0] == "* STATUS INBOX (DELETED 1 DELETED-STORAGE 4000 MESSAGES 2)"
    await command(client, "j EXPUNGE")
    assert (await command(client, "k COPY 1 Trash"))[-1].startswith("k OK")


async def test_a_user_over_quota_can_still_move_mail_to_trash(
    imap_lab_factory: LabFactory,
) -> None:
    """Thunderbird and Outlook delete by moving to Trash; a MOVE between one user's
    folders frees nothing but takes nothing either, so the quota must not block it."""
    lab = await imap_lab_factory(quota=QuotaSettings(default_mb=LIMIT_MB))
    await lab.deliver(sized(6000))
    await lab.deliver(sized(4000))  # 10,000 of 10,240 octets: no room for a copy
    client = await lab.login()
    await command(client, "c CREATE Trash")
    await command(client, "s SELECT INBOX")
    assert (await command(client, "m MOVE 1 Trash"))[-1] == "m OK MOVE completed"
    assert len((await lab.snapshot(folder="Trash")).messages) == 1
    assert len((await lab.snapshot()).messages) == 1
    assert (await command(client, 'q GETQUOTA ""'))[0] == '* QUOTA "" (STORAGE 10 10)'
    # A copy would still add to the usage, so it stays refused.
    assert (await command(client, "f COPY 1 Trash"))[-1] == "f NO [OVERQUOTA] Quota exceeded"


async def test_quota_administration_and_unknown_roots(imap_lab_factory: LabFactory) -> None:
    lab = await imap_lab_factory(quota=QuotaSettings(default_mb=LIMIT_MB))
    client = await lab.login()
    assert (await command(client, 'a SETQUOTA "" (STORAGE 512)')) == [
        "a NO [NOPERM] Quotas are set by the administrator"
    ]
    assert (await command(client, 'b GETQUOTA "user.other"')) == [
        "b NO [NONEXISTENT] No such quota root"
    ]
    assert (await command(client, "c GETQUOTAROOT nowhere"))[-1].startswith("c NO [NONEXISTENT]")
    await command(client, "d CREATE Trash")
    assert (await command(client, "e GETQUOTAROOT Trash")) == [
        '* QUOTAROOT Trash ""',
        '* QUOTA "" (STORAGE 0 10)',
        "e OK Getquotaroot completed",
    ]


async def test_no_limit_means_no_quota_root(imap_lab: ImapLab) -> None:
    client = await imap_lab.login()
    assert (await command(client, "a GETQUOTAROOT INBOX")) == [
        "* QUOTAROOT INBOX",
        "a OK Getquotaroot completed",
    ]
    assert (await command(client, 'b GETQUOTA ""'))[-1] == "b NO [NONEXISTENT] No such quota root"
