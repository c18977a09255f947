"""Listing \\Recent messages without claiming them (STATUS RECENT, EXAMINE)."""

from __future__ import annotations

from pathlib import Path

from mailserver.storage import INBOX
from mailserver.storage.maildir import MaildirStore

MESSAGE = b"Subject: x\r\n\r\nbody\r\n"


async def test_unclaimed_messages_are_counted_until_someone_claims_them(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path)
    folder = await (await store.mailbox("u")).folder(INBOX)
    await folder.append(MESSAGE)
    await folder.append(MESSAGE, flags=["\\Seen"])
    assert await folder.recent_uids() == {1, 2}
    assert len(await folder.recent_uids()) == 2, "listing must not claim"
    claimed = await folder.snapshot(claim_recent=True)
    assert len(claimed.recent) == 2
    assert len(await folder.recent_uids()) == 0
    await folder.append(MESSAGE)
    assert await folder.recent_uids() == {3}


async def test_another_process_sees_new_mail_as_recent(tmp_path: Path) -> None:
    first = await (await MaildirStore(tmp_path).mailbox("u")).folder(INBOX)
    await first.append(MESSAGE)
    other = await (await MaildirStore(tmp_path).mailbox("u")).folder(INBOX)
    assert len(await other.recent_uids()) == 1
    await other.snapshot(claim_recent=True)
    assert len(await first.recent_uids()) == 0


async def test_a_claimed_snapshot_shares_the_folders_uid_list(tmp_path: Path) -> None:
    """Each session that selects a big folder claims \\Recent; its snapshot must
    not carry a private copy of the UID list (memory per idle session)."""
    folder = await (await MaildirStore(tmp_path).mailbox("u")).folder(INBOX)
    for _ in range(3):
        await folder.append(MESSAGE)
    claimed = await folder.snapshot(claim_recent=True)
    plain = await folder.snapshot()
    assert claimed.recent == {1, 2, 3} and not plain.recent
    assert claimed.uids == [1, 2, 3]
    assert claimed.uids is plain.uids and claimed.messages is plain.messages
