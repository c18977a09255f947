"""``Mailbox.folder(INBOX)`` skips the worker-thread look at the disk for
``INBOX_RECHECK`` seconds (every local delivery opens INBOX), and still
re-creates an INBOX removed behind its back after that."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mailserver.storage import INBOX
from mailserver.storage.maildir import mailbox as mailbox_module
from mailserver.storage.maildir.store import MaildirStore

MSG = b"Subject: hi\r\n\r\nbody\r\n"


async def test_cached_inbox_comes_without_a_look_at_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox = await MaildirStore(tmp_path / "mail").mailbox("alice")
    inbox = await mailbox.folder(INBOX)

    def no_disk(name: str) -> None:
        raise AssertionError("looked at the disk")

    monkeypatch.setattr(mailbox, "_folder_blocking", no_disk)
    assert await mailbox.folder(INBOX) is inbox
    with pytest.raises(AssertionError):
        await mailbox.folder("Sent")  # other folders always look


async def test_removed_inbox_is_recreated_once_the_recheck_is_due(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mailbox = await MaildirStore(tmp_path / "mail").mailbox("alice")
    inbox = await mailbox.folder(INBOX)
    assert await inbox.append(MSG) == 1
    shutil.rmtree(inbox.path / "cur")
    shutil.rmtree(inbox.path / "new")
    shutil.rmtree(inbox.path / "tmp")
    monkeypatch.setattr(mailbox_module, "INBOX_RECHECK", 0.0)
    again = await mailbox.folder(INBOX)
    assert (again.path / "tmp").is_dir()
    await again.append(MSG)
    assert len((await again.snapshot()).messages) == 1
