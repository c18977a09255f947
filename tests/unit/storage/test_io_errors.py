"""OS errors become store errors whose kind the protocols can map, and whose text is safe."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from mailserver.storage import INBOX, SEEN, ErrorKind, StorageError
from mailserver.storage.maildir import MaildirFolder, MaildirStore, io
from mailserver.storage.maildir.io import storage_error


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/secret/path"), ErrorKind.NO_SPACE),
        (OSError(errno.EDQUOT, "Disk quota exceeded", "/secret/path"), ErrorKind.NO_SPACE),
        (PermissionError(errno.EACCES, "denied", "/secret/path"), ErrorKind.NO_PERMISSION),
        (FileNotFoundError(errno.ENOENT, "missing", "/secret/path"), ErrorKind.NOT_FOUND),
        (OSError(errno.EIO, "I/O error", "/secret/path"), ErrorKind.TEMPORARY),
    ],
)
def test_kind_and_safe_message(exc: OSError, kind: ErrorKind) -> None:
    error = storage_error(exc, "writing message")
    assert error.kind is kind
    assert "/secret/path" not in error.message and "writing message" in error.message


# ------------------------------------------- a failed write leaves nothing behind


@pytest.fixture
async def inbox(tmp_path: Path) -> MaildirFolder:
    return await (await MaildirStore(tmp_path / "mail").mailbox("alice")).folder(INBOX)


def fail_uidlist_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up just when the uid list is rewritten or appended to
    (the message file fitted)."""
    real = io.atomic_replace

    def atomic_replace(path: Path, data: bytes) -> None:
        if path.name == "dovecot-uidlist":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)

    def append_synced(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])  # half a line made it to the file
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io, "atomic_replace", atomic_replace)
    monkeypatch.setattr(io, "append_synced", append_synced)


def message_files(folder: MaildirFolder) -> list[str]:
    return [name for sub in ("new", "cur", "tmp") for name in os.listdir(folder.path / sub)]


@pytest.mark.parametrize("flags", [[], [SEEN, "$Label1"]])
async def test_refused_append_leaves_no_message(
    inbox: MaildirFolder, monkeypatch: pytest.MonkeyPatch, flags: list[str]
) -> None:
    """APPEND answered NO (SMTP 452) must not be stored: the client will send it again."""
    await inbox.append(b"Subject: kept\r\n\r\nx\r\n")
    with monkeypatch.context() as patch:
        fail_uidlist_writes(patch)
        with pytest.raises(StorageError) as caught:
            await inbox.append(b"Subject: refused\r\n\r\nx\r\n", flags)
    assert caught.value.kind is ErrorKind.NO_SPACE
    assert len(message_files(inbox)) == 1
    snap = await inbox.snapshot()
    assert [info.uid for info in snap.messages] == [1]
    assert snap.uidnext >= 2


async def test_refused_copy_leaves_no_message(
    tmp_path: Path, inbox: MaildirFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    await inbox.append(b"Subject: one\r\n\r\nx\r\n")
    await inbox.append(b"Subject: two\r\n\r\nx\r\n", [SEEN])
    mailbox = await MaildirStore(tmp_path / "mail").mailbox("alice")
    await mailbox.create_folder("Archive")
    archive = await mailbox.folder("Archive")
    with monkeypatch.context() as patch:
        fail_uidlist_writes(patch)
        with pytest.raises(StorageError):
            await inbox.copy_to([1, 2], archive)
    assert message_files(archive) == []
    assert (await archive.snapshot()).messages == ()
    assert len(message_files(inbox)) == 2
