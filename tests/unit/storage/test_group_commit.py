"""Group commit: appends queued for one folder are made durable together.

The first append to get the folder lock commits every append queued by then
with one directory fsync; nobody returns before their own message is
durable, and a failed batch fails every append in it and leaves no file.
"""

from __future__ import annotations

import asyncio
import errno
import os
import time
from pathlib import Path

import pytest

from mailserver.storage import INBOX, StorageError
from mailserver.storage.maildir import MaildirFolder, MaildirStore, io

APPENDS = 5  # fewer than asyncio's default executor threads (min(32, cores + 4) >= 5)


def message(number: int) -> bytes:
    return b"Subject: %d\r\n\r\nbody %d\r\n" % (number, number)


@pytest.fixture
async def inbox(tmp_path: Path) -> MaildirFolder:
    return await (await MaildirStore(tmp_path / "mail").mailbox("alice")).folder(INBOX)


def placed(folder: MaildirFolder) -> int:
    return len(os.listdir(folder.path / "new")) + len(os.listdir(folder.path / "cur"))


def hold_first_commit(
    monkeypatch: pytest.MonkeyPatch, folder: MaildirFolder, fail: bool = False
) -> list[str]:
    """Make the first commit's directory fsync wait until every other append has
    queued behind it (the files it renamed are its batch); ``fail`` makes that
    fsync fail. Returns the folder fsyncs of commits, in order."""
    calls: list[str] = []
    real = io.fsync_dir

    def fsync_dir(path: str | os.PathLike[str]) -> None:
        name = os.path.basename(os.fspath(path))
        if name not in ("new", "cur"):  # tmp/, index files: not a commit
            real(path)
            return
        calls.append(name)  # only ever called with the folder lock held
        if len(calls) == 1:
            deadline = time.monotonic() + 30
            while len(folder._arrivals) + placed(folder) < APPENDS:
                assert time.monotonic() < deadline, "the other appends never queued"
                time.sleep(0.005)
            if fail:
                raise OSError(errno.EIO, "injected")
        real(path)

    monkeypatch.setattr(io, "fsync_dir", fsync_dir)
    return calls


async def test_queued_appends_share_one_directory_fsync(
    inbox: MaildirFolder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = hold_first_commit(monkeypatch, inbox)
    uids = await asyncio.gather(*(inbox.append(message(n)) for n in range(APPENDS)))
    assert sorted(uids) == list(range(1, APPENDS + 1))
    assert 1 <= len(calls) <= 2  # the first batch, then all that queued behind it
    fresh = await (await MaildirStore(tmp_path / "mail").mailbox("alice")).folder(INBOX)
    snapshot = await fresh.snapshot()
    assert [m.uid for m in snapshot.messages] == list(range(1, APPENDS + 1))
    bodies = {await fresh.read(uid) for uid in uids}
    assert bodies == {message(n) for n in range(APPENDS)}


async def test_a_failed_batch_fails_each_append_and_leaves_nothing(
    inbox: MaildirFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold_first_commit(monkeypatch, inbox, fail=True)
    results = await asyncio.gather(
        *(inbox.append(message(n), ["\\Seen"]) for n in range(APPENDS)), return_exceptions=True
    )
    failures = [r for r in results if isinstance(r, BaseException)]
    uids = [r for r in results if isinstance(r, int)]
    assert failures, "the first batch must fail"
    assert all(isinstance(f, StorageError) for f in failures)
    assert len(failures) + len(uids) == APPENDS
    assert placed(inbox) == len(uids)  # the failed batch's files were removed again
    assert os.listdir(inbox.path / "tmp") == []
    monkeypatch.undo()
    uid = await inbox.append(message(99))
    assert uid not in uids
    assert sorted(m.uid for m in (await inbox.snapshot()).messages) == sorted([*uids, uid])


async def test_appends_of_another_process_are_read_incrementally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two stores on one maildir (as two workers): each reads only the other's new lines."""
    from mailserver.storage.maildir import uidlist

    one = await (await MaildirStore(tmp_path / "mail").mailbox("alice")).folder(INBOX)
    two = await (await MaildirStore(tmp_path / "mail").mailbox("alice")).folder(INBOX)
    uids = [await one.append(message(0)), await two.append(message(1))]
    parses: list[int] = []
    real = uidlist.UidList.parse.__func__  # type: ignore[attr-defined]

    def counting(cls: type[uidlist.UidList], text: str) -> uidlist.UidList:
        parses.append(len(text))
        return real(cls, text)  # type: ignore[no-any-return]

    monkeypatch.setattr(uidlist.UidList, "parse", classmethod(counting))
    for n in range(2, 8):
        uids.append(await (one if n % 2 else two).append(message(n)))
    assert uids == list(range(1, 9))
    assert parses == []  # every reload was the appended tail only
    monkeypatch.undo()
    fresh = await (await MaildirStore(tmp_path / "mail").mailbox("alice")).folder(INBOX)
    snapshot = await fresh.snapshot()
    assert [m.uid for m in snapshot.messages] == uids
    assert {await fresh.read(uid) for uid in uids} == {message(n) for n in range(8)}
