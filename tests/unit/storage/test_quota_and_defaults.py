"""Storage quota (RFC 9208) and default special-use folders (RFC 6154) in the maildir store."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from mailserver.storage import INBOX, SEEN, ErrorKind, FlagMode, StorageError
from mailserver.storage.maildir import MaildirStore

MSG = b"Subject: q\r\n\r\n" + b"x" * 84 + b"\r\n"  # 100 octets
assert len(MSG) == 100

DEFAULTS = [
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
    ("Notes", None),
]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "mail"


# ------------------------------------------------------------------ quota


async def test_usage_counts_every_folder(root: Path) -> None:
    mailbox = await MaildirStore(root).mailbox("alice")
    assert await mailbox.usage() == (0, 0)
    assert mailbox.quota_limit() is None
    inbox = await mailbox.folder(INBOX)
    await mailbox.create_folder("Work")
    work = await mailbox.folder("Work")
    await inbox.append(MSG)
    await work.append(b"tiny\n")  # 6 octets with CRLF
    assert await mailbox.usage() == (106, 2)
    await inbox.store_flags([1], [SEEN], FlagMode.ADD)
    await work.expunge([1])
    assert await mailbox.usage() == (100, 1)
    # Another process (or an MDA) delivering is counted too: the disk is the truth.
    (inbox.path / "new" / "1.external.host").write_bytes(b"12345678\n")
    assert await mailbox.usage() == (110, 2)


async def test_append_over_quota_is_refused_before_writing(root: Path) -> None:
    limits = {"alice": 250, "bob": None}
    store = MaildirStore(root, quota=limits.get)
    mailbox = await store.mailbox("alice")
    assert mailbox.quota_limit() == 250
    inbox = await mailbox.folder(INBOX)
    await inbox.append(MSG)
    await inbox.append(MSG)
    with pytest.raises(StorageError) as info:
        await inbox.append(MSG)
    assert info.value.kind is ErrorKind.OVER_QUOTA
    assert info.value.message == "Quota exceeded"
    assert len(os.listdir(inbox.path / "new")) == 2
    assert os.listdir(inbox.path / "tmp") == []
    # Exactly reaching the limit is fine.
    assert await inbox.append(b"y" * 48 + b"\r\n") > 0
    assert await mailbox.usage() == (250, 3)
    with pytest.raises(StorageError):
        await inbox.append(b"z")
    # Freeing space lets mail in again; the limit is asked each time.
    await inbox.expunge([1])
    await inbox.append(MSG)
    limits["alice"] = None
    await inbox.append(MSG * 10)
    bob = await (await store.mailbox("bob")).folder(INBOX)
    await bob.append(MSG * 100)


async def test_copy_over_quota_is_refused(root: Path) -> None:
    store = MaildirStore(root, quota=lambda user: 350)
    mailbox = await store.mailbox("alice")
    inbox = await mailbox.folder(INBOX)
    await mailbox.create_folder("Keep")
    keep = await mailbox.folder("Keep")
    uids = [await inbox.append(MSG) for _ in range(2)]
    with pytest.raises(StorageError) as info:
        await inbox.copy_to(uids, keep)  # 200 + 200 > 350
    assert info.value.kind is ErrorKind.OVER_QUOTA
    assert (await keep.snapshot()).messages == ()
    assert await inbox.copy_to(uids[:1], keep) == {uids[0]: 1}
    assert await mailbox.usage() == (300, 3)


async def test_concurrent_appends_cannot_both_take_the_last_space(root: Path) -> None:
    store = MaildirStore(root, quota=lambda user: 250)
    inbox = await (await store.mailbox("alice")).folder(INBOX)
    await inbox.append(MSG)
    results = await asyncio.gather(
        inbox.append(MSG), inbox.append(MSG), inbox.append(MSG), return_exceptions=True
    )
    assert sum(isinstance(r, int) for r in results) == 1
    assert all(
        isinstance(r, int) or (isinstance(r, StorageError) and r.kind is ErrorKind.OVER_QUOTA)
        for r in results
    )


# -------------------------------------------------------- default folders


async def test_default_folders_created_and_subscribed_once(root: Path) -> None:
    store = MaildirStore(root, default_folders=DEFAULTS)
    mailbox = await store.mailbox("alice")
    names = [name for name, _ in DEFAULTS]
    assert sorted(await mailbox.list_folders()) == sorted([INBOX, *names])
    assert await mailbox.subscriptions() == {INBOX, *names}
    assert (mailbox.path / ".Sent" / "maildirfolder").exists()
    assert await mailbox.special_use() == {
        "Sent": "\\Sent",
        "Drafts": "\\Drafts",
        "Trash": "\\Trash",
        "Junk": "\\Junk",
        "Archive": "\\Archive",
    }
    sent = await mailbox.folder("Sent")
    await sent.append(MSG)
    assert (await sent.snapshot()).highest_modseq == 2
    await mailbox.delete_folder("Junk")
    await mailbox.unsubscribe("Junk")
    assert "Junk" not in await mailbox.special_use()
    # A restarted server does not bring back what the user deleted.
    again = await MaildirStore(root, default_folders=DEFAULTS).mailbox("alice")
    assert "Junk" not in await again.list_folders()
    assert "Junk" not in await again.subscriptions()
    assert not any(p.name.startswith(".mailserver-new.") for p in root.iterdir())


async def test_existing_mailbox_gets_no_default_folders(root: Path) -> None:
    await MaildirStore(root).mailbox("alice")
    mailbox = await MaildirStore(root, default_folders=DEFAULTS).mailbox("alice")
    assert await mailbox.list_folders() == [INBOX]
    assert await mailbox.special_use() == {}
    assert await mailbox.subscriptions() == set()


async def test_no_default_folders_keeps_old_layout(root: Path) -> None:
    mailbox = await MaildirStore(root).mailbox("alice")
    assert await mailbox.subscriptions() == set()
    assert await mailbox.special_use() == {}


async def test_stale_staging_left_by_a_crash_is_removed(root: Path) -> None:
    root.mkdir()
    stale = root / ".mailserver-new.123.M1P1Q1.host,S=0,W=0"
    (stale / "cur").mkdir(parents=True)
    old = os.stat(stale).st_mtime - 7200
    os.utime(stale, (old, old))
    await MaildirStore(root, default_folders=DEFAULTS).mailbox("alice")
    assert not stale.exists()


@pytest.mark.parametrize(
    "folders",
    [
        [("INBOX", None)],
        [("Sent", None), ("Sent", "\\Sent")],
        [("a.b", None)],
        [("Sent", "Sent")],
        [("Sent", "\\Se nt")],
        [("", None)],
    ],
)
def test_bad_default_folders_fail_at_start(
    root: Path, folders: list[tuple[str, str | None]]
) -> None:
    with pytest.raises(ValueError):
        MaildirStore(root, default_folders=folders)


def test_default_folder_names_are_canonical(root: Path) -> None:
    store = MaildirStore(root, default_folders=[("inbox/Sub", None), ("Work/Old", "\\Archive")])
    assert store.default_folders == (("INBOX/Sub", None), ("Work/Old", "\\Archive"))
