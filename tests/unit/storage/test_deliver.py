"""``Folder.deliver``: durable in ``new/``, numbered by the next reader.

A delivery (SMTP, webmail's send, the queue's local retries) writes the file
to ``tmp/``, fsyncs it, renames it into ``new/`` and fsyncs ``new/``, and
returns; it neither takes the folder lock nor writes ``dovecot-uidlist`` or
the mod-sequence journal. The next snapshot, in this process or another,
gives it its UID and mod-sequence, as for a file an MDA put there.
"""

from __future__ import annotations

import asyncio
import errno
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mailserver.storage import INBOX, ErrorKind, StorageError
from mailserver.storage.maildir import MaildirFolder, MaildirStore, io, modseq, uidlist
from mailserver.storage.maildir.writer import DeliveryWriter, writer
from tests.support.processes import acknowledged_then_killed

DELIVERIES = 5


def message(number: int) -> bytes:
    return b"Subject: %d\r\n\r\nbody %d\r\n" % (number, number)


async def inbox_of(root: Path, quota: int | None = None) -> MaildirFolder:
    store = MaildirStore(root, quota=lambda user: quota)
    folder = await (await store.mailbox("alice")).folder(INBOX)
    assert isinstance(folder, MaildirFolder)
    return folder


def index_files(folder: MaildirFolder) -> dict[str, bytes]:
    out = {}
    for name in (uidlist.FILE_NAME, modseq.FILE_NAME):
        path = folder.path / name
        out[name] = path.read_bytes() if path.exists() else b""
    return out


async def test_a_delivery_is_in_new_and_numbered_at_the_next_snapshot(tmp_path: Path) -> None:
    folder = await inbox_of(tmp_path)
    await folder.append(message(0))  # an existing message: index files exist
    before = index_files(folder)
    await folder.deliver(message(1))
    # Durable in new/, but the index files are untouched: nobody numbered it yet.
    assert len(os.listdir(folder.path / "new")) == 2
    assert os.listdir(folder.path / "tmp") == []
    assert index_files(folder) == before
    snap = await folder.snapshot()
    assert snap.uids == [1, 2]
    assert await folder.read(2) == message(1)
    assert snap.messages[1].modseq > snap.messages[0].modseq
    assert snap.uidnext == 3
    after = index_files(folder)
    assert after[uidlist.FILE_NAME].startswith(before[uidlist.FILE_NAME])  # appended
    assert len(after[modseq.FILE_NAME]) > len(before[modseq.FILE_NAME])


async def test_another_process_numbers_a_delivery_it_did_not_see_happen(tmp_path: Path) -> None:
    """Two stores on one maildir (as two workers): a delivery through one is
    numbered by the other's next snapshot, and both agree on the UIDs."""
    one = await inbox_of(tmp_path)
    two = await inbox_of(tmp_path)
    assert (await two.snapshot()).uids == []
    await one.deliver(message(0))
    await one.deliver(message(1))
    snap_two = await two.snapshot()
    assert snap_two.uids == [1, 2]
    assert [await two.read(uid) for uid in snap_two.uids] == [message(0), message(1)]
    uid = await one.append(message(2))  # an append through the first sees them too
    assert uid == 3
    assert (await one.snapshot()).uids == [1, 2, 3]
    assert (await two.snapshot()).uids == [1, 2, 3]
    assert set(await one.recent_uids()) == {1, 2, 3}


async def test_scanning_new_files_appends_to_the_uid_list_instead_of_rewriting_it(
    tmp_path: Path,
) -> None:
    """A reader that numbers deliveries one by one must not rewrite a list of
    50,000 lines each time: the list keeps its inode and only grows."""
    folder = await inbox_of(tmp_path)
    for n in range(3):
        await folder.append(message(n))
    path = folder.path / uidlist.FILE_NAME
    inode = os.stat(path).st_ino
    for n in range(3, 6):
        await folder.deliver(message(n))
        await folder.snapshot()
        assert os.stat(path).st_ino == inode
    fresh = await inbox_of(tmp_path)
    assert (await fresh.snapshot()).uids == list(range(1, 7))


def hold_first_sync(monkeypatch: pytest.MonkeyPatch, fail_second: bool = False) -> list[str]:
    """Make the first fsync of ``new/`` (the first delivery's batch) wait until
    every other delivery has queued behind it; ``fail_second`` makes the fsync
    of the next batch (all the others) fail."""
    calls: list[str] = []
    real = io.fsync_dir
    queue = writer()

    def fsync_dir(path: str | os.PathLike[str]) -> None:
        if os.path.basename(os.fspath(path)) != "new":
            real(path)
            return
        calls.append("new")
        if len(calls) == 1:
            deadline = time.monotonic() + 30
            while len(queue._pending) < DELIVERIES - 1:
                assert time.monotonic() < deadline, "the other deliveries never queued"
                time.sleep(0.005)
        elif len(calls) == 2 and fail_second:
            raise OSError(errno.EIO, "injected")
        real(path)

    monkeypatch.setattr(io, "fsync_dir", fsync_dir)
    return calls


async def deliver_all(folder: MaildirFolder) -> list[BaseException | None]:
    """Deliver messages 0 .. DELIVERIES-1 at once; each one's outcome, in order."""
    return await asyncio.gather(
        *(folder.deliver(message(n)) for n in range(DELIVERIES)), return_exceptions=True
    )


async def assert_failed_alone(
    folder: MaildirFolder, results: list[BaseException | None], lost: int, kind: ErrorKind
) -> None:
    """Delivery ``lost`` failed with ``kind``; every other one is in the folder."""
    failed = results[lost]
    assert isinstance(failed, StorageError) and failed.kind is kind, failed
    assert [r for n, r in enumerate(results) if n != lost] == [None] * (DELIVERIES - 1)
    snap = await folder.snapshot()
    assert {await folder.read(uid) for uid in snap.uids} == {
        message(n) for n in range(DELIVERIES) if n != lost
    }


async def test_deliveries_queued_during_a_batch_go_out_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One thread call and one directory fsync per batch: the four deliveries
    queued while the first was on disk are written together."""
    folder = await inbox_of(tmp_path)
    calls = hold_first_sync(monkeypatch)
    threads: list[str] = []
    real_stage = io.start_new_file

    def start_new_file(path: Path, data: bytes) -> int:
        threads.append(threading.current_thread().name)
        return real_stage(path, data)

    monkeypatch.setattr(io, "start_new_file", start_new_file)
    await asyncio.gather(*(folder.deliver(message(n)) for n in range(DELIVERIES)))
    assert calls == ["new", "new"]
    assert len(threads) == DELIVERIES and len(set(threads[1:])) == 1
    monkeypatch.undo()
    snap = await folder.snapshot()
    assert {await folder.read(uid) for uid in snap.uids} == {message(n) for n in range(DELIVERIES)}


async def test_a_failed_sync_fails_every_delivery_in_its_batch_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = await inbox_of(tmp_path)
    hold_first_sync(monkeypatch, fail_second=True)
    results = await deliver_all(folder)
    assert results[0] is None  # the first batch
    failures = results[1:]
    assert all(isinstance(f, StorageError) and f.kind is ErrorKind.TEMPORARY for f in failures), (
        failures
    )
    assert len(os.listdir(folder.path / "new")) == 1  # the failed batch was removed
    assert os.listdir(folder.path / "tmp") == []
    monkeypatch.undo()
    snap = await folder.snapshot()
    assert [await folder.read(uid) for uid in snap.uids] == [message(0)]


async def test_a_message_that_cannot_be_written_fails_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = await inbox_of(tmp_path)
    hold_first_sync(monkeypatch)
    real = io.start_new_file

    def start_new_file(path: Path, data: bytes) -> int:
        if b"body 2" in data:
            raise OSError(errno.ENOSPC, "injected")
        return real(path, data)

    monkeypatch.setattr(io, "start_new_file", start_new_file)
    results = await deliver_all(folder)
    monkeypatch.undo()
    await assert_failed_alone(folder, results, 2, ErrorKind.NO_SPACE)


def record_file_steps(monkeypatch: pytest.MonkeyPatch, fail_fsync_of: bytes = b"") -> list[str]:
    """Log each file's write ("write N") and fsync ("fsync N") in order; the fsync
    of the file holding ``fail_fsync_of`` fails."""
    steps: list[str] = []
    real_start, real_fsync = io.start_new_file, os.fsync
    names: dict[int, str] = {}

    def start_new_file(path: Path, data: bytes) -> int:
        fd = real_start(path, data)
        names[fd] = data.split(b"body ")[1].strip().decode()
        steps.append(f"write {names[fd]}")
        return fd

    def fsync(fd: int) -> None:
        name = names.pop(fd, None)
        if name is None:  # a directory
            real_fsync(fd)
            return
        steps.append(f"fsync {name}")
        if fail_fsync_of and fail_fsync_of == f"body {name}".encode():
            raise OSError(errno.EIO, "injected")
        real_fsync(fd)

    monkeypatch.setattr(io, "start_new_file", start_new_file)
    monkeypatch.setattr(os, "fsync", fsync)
    return steps


async def test_a_batch_writes_every_file_before_the_first_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a journaling file system fsyncs issued one after another each wait for a
    journal commit; written first, the batch's files share them."""
    folder = await inbox_of(tmp_path)
    hold_first_sync(monkeypatch)
    steps = record_file_steps(monkeypatch)
    await asyncio.gather(*(folder.deliver(message(n)) for n in range(DELIVERIES)))
    monkeypatch.undo()
    assert steps[:2] == ["write 0", "fsync 0"]  # the first batch: one delivery
    second = steps[2:]
    assert sorted(second[: DELIVERIES - 1]) == [f"write {n}" for n in range(1, DELIVERIES)]
    assert sorted(second[DELIVERIES - 1 :]) == [f"fsync {n}" for n in range(1, DELIVERIES)]
    snap = await folder.snapshot()
    assert {await folder.read(uid) for uid in snap.uids} == {message(n) for n in range(DELIVERIES)}


async def test_a_failed_file_fsync_fails_that_delivery_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = await inbox_of(tmp_path)
    hold_first_sync(monkeypatch)
    record_file_steps(monkeypatch, fail_fsync_of=b"body 3")
    results = await deliver_all(folder)
    monkeypatch.undo()
    assert os.listdir(folder.path / "tmp") == []  # its unsynced file was removed
    await assert_failed_alone(folder, results, 3, ErrorKind.TEMPORARY)


async def test_a_cancelled_delivery_still_completes_its_batch(tmp_path: Path) -> None:
    """The caller gave up (its connection dropped): the batch it was in is not
    left hanging, and the deliveries after it go through."""
    folder = await inbox_of(tmp_path)
    first = asyncio.ensure_future(folder.deliver(message(0)))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.gather(*(folder.deliver(message(n)) for n in range(1, 3)))
    with pytest.raises(asyncio.CancelledError):
        await first
    snap = await folder.snapshot()
    got = {await folder.read(uid) for uid in snap.uids}
    assert {message(1), message(2)} <= got <= {message(n) for n in range(3)}


async def test_deliveries_count_against_the_quota(tmp_path: Path) -> None:
    """Unnumbered files still count: the usage check reads the folder, which numbers them."""
    folder = await inbox_of(tmp_path, quota=3 * len(message(0)))
    for n in range(3):
        await folder.deliver(message(n))
    with pytest.raises(StorageError) as caught:
        await folder.deliver(message(3))
    assert caught.value.kind is ErrorKind.OVER_QUOTA
    assert len(os.listdir(folder.path / "new")) == 3
    assert os.listdir(folder.path / "tmp") == []


async def test_a_delivery_wakes_the_folder_listeners(tmp_path: Path) -> None:
    folder = await inbox_of(tmp_path)
    woken: list[int] = []
    folder.add_listener(lambda: woken.append(1))
    await folder.deliver(message(0))
    assert woken == [1]
    assert (await folder.snapshot()).uids == [1]


async def test_deliver_file_copies_prefix_and_spooled_body(tmp_path: Path) -> None:
    folder = await inbox_of(tmp_path / "mail")
    spool = tmp_path / "spool"
    spool.write_bytes(b"XXXXbody line\r\n" * 3)
    await folder.deliver_file(spool, offset=4, prefix=b"Subject: s\r\n\r\n")
    assert spool.exists()  # the caller's to remove
    snap = await folder.snapshot()
    body = b"body line\r\n" + b"XXXXbody line\r\n" * 2
    assert await folder.read(snap.uids[0]) == b"Subject: s\r\n\r\n" + body
    assert snap.messages[0].size == len(await folder.read(snap.uids[0]))


CRASHER = """
import asyncio, sys
from pathlib import Path
from mailserver.storage.maildir import MaildirStore

async def main(root):
    folder = await (await MaildirStore(Path(root)).mailbox("shared")).folder("INBOX")
    i = 0
    while True:
        await folder.deliver(f"Subject: n{i}\\n\\nx\\n".encode())
        if i % 7 == 0:
            await folder.snapshot()  # numbering under way too when the kill comes
        print(i, flush=True)  # acknowledged: must survive kill -9
        i += 1

asyncio.run(main(sys.argv[1]))
"""


async def test_kill_9_loses_no_acknowledged_delivery(tmp_path: Path) -> None:
    # SIGKILL somewhere in a delivery or a numbering scan.
    acked = [int(line) for line in await acknowledged_then_killed(CRASHER, str(tmp_path))]

    folder = await (await MaildirStore(tmp_path).mailbox("shared")).folder(INBOX)
    snap = await folder.snapshot()
    subjects = {(await folder.read(uid)).split(b"\r\n", 1)[0] for uid in snap.uids}
    missing = [i for i in acked if f"Subject: n{i}".encode() not in subjects]
    assert not missing, f"acknowledged deliveries lost: {missing[:5]}"
    assert len(snap.uids) == len(set(snap.uids)) >= len(acked)
    assert await folder.append(b"after\n") > max(snap.uids)


async def test_a_failed_delivery_nobody_waits_for_is_not_logged_as_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The caller gave up, then its batch failed: its error is read by the writer,
    not left for asyncio to log as "Future exception was never retrieved" (a
    second, misleading report of a failure the storage layer logged already)."""
    folder = await inbox_of(tmp_path)
    futures: list[asyncio.Future[None]] = []
    finished = DeliveryWriter._finished

    def watch(self: DeliveryWriter, batch: list[Any], future: Any) -> None:
        futures.extend(job.future for job in batch)
        finished(self, batch, future)

    def failing_fsync(path: str | os.PathLike[str]) -> None:
        raise OSError(errno.EIO, "injected")

    monkeypatch.setattr(DeliveryWriter, "_finished", watch)
    monkeypatch.setattr(io, "fsync_dir", failing_fsync)
    abandoned = asyncio.ensure_future(folder.deliver(message(0)))
    await asyncio.sleep(0)
    abandoned.cancel()
    with pytest.raises(asyncio.CancelledError):
        await abandoned
    with pytest.raises(StorageError):
        await folder.deliver(message(1))  # written after the abandoned one's batch
    await asyncio.sleep(0)
    first = futures[0]
    # asyncio's own flag: it logs the error when the future goes while this is set.
    assert not first._log_traceback, "the abandoned delivery's error was left unread"
    assert isinstance(first.exception(), StorageError)


async def test_a_spooled_delivery_that_fails_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``deliver_file`` goes through the same batch as ``deliver``: a failed
    ``new/`` fsync refuses it and removes its file from ``tmp/`` and ``new/``."""
    folder = await inbox_of(tmp_path / "mail")
    spool = tmp_path / "spool"
    spool.write_bytes(b"Subject: s\r\n\r\nbody\r\n")

    def failing_fsync(path: str | os.PathLike[str]) -> None:
        raise OSError(errno.EIO, "injected")

    monkeypatch.setattr(io, "fsync_dir", failing_fsync)
    with pytest.raises(StorageError):
        await folder.deliver_file(spool)
    monkeypatch.undo()
    assert os.listdir(folder.path / "tmp") == []
    assert os.listdir(folder.path / "new") == []
    assert spool.read_bytes() == b"Subject: s\r\n\r\nbody\r\n"
    await folder.deliver_file(spool)  # and the next one goes through
    assert len((await folder.snapshot()).uids) == 1
