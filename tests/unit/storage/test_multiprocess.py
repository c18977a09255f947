"""Several OS processes share one maildir: UIDs stay unique and are never reused.

Workers are separate interpreters (``python -c``), so they share nothing with
this process but the files and the ``flock`` — exactly like two servers (or a
server and a delivery agent) on one machine.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from mailserver.storage import INBOX, ErrorKind, StorageError
from mailserver.storage.maildir import MaildirStore
from tests.support.processes import acknowledged_then_killed

WORKER = """
import asyncio, json, sys
from pathlib import Path
from mailserver.storage.maildir import MaildirStore

async def main(root, tag, count, expunge_every):
    go = Path(root) / "go"
    while not go.exists():  # start together, so the appends really overlap
        await asyncio.sleep(0.002)
    folder = await (await MaildirStore(Path(root)).mailbox("shared")).folder("INBOX")
    uids = []
    for i in range(count):
        uid = await folder.append(f"Subject: {tag}-{i}\\n\\nbody {tag} {i}\\n".encode())
        uids.append(uid)
        if expunge_every and i % expunge_every == 0:
            await folder.expunge([uid])
    print(json.dumps(uids))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
"""

PER_PROCESS = 100


def start_worker(root: Path, tag: str, count: int, expunge_every: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(root), tag, str(count), str(expunge_every)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def go(root: Path) -> None:
    (root / "go").touch()


def finish(proc: subprocess.Popen[str]) -> list[int]:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    uids: list[int] = json.loads(out)
    return uids


async def wait_all(procs: list[subprocess.Popen[str]]) -> list[list[int]]:
    return await asyncio.gather(*(asyncio.to_thread(finish, proc) for proc in procs))


async def test_concurrent_appends_get_unique_uids(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path)
    folder = await (await store.mailbox("shared")).folder(INBOX)
    tags = ["p0", "p1", "p2"]
    procs = [start_worker(tmp_path, tag, PER_PROCESS) for tag in tags]
    go(tmp_path)
    results = await wait_all(procs)
    all_uids = [uid for uids in results for uid in uids]
    assert len(all_uids) == len(set(all_uids)) == PER_PROCESS * len(tags)
    # The processes did run concurrently: someone's UIDs are not one solid block.
    assert any(uids[-1] - uids[0] >= len(uids) for uids in results)
    for uids in results:
        assert uids == sorted(uids)  # each process sees its own UIDs ascend

    snap = await folder.snapshot()
    assert snap.uids == sorted(all_uids)
    assert snap.uidnext == max(all_uids) + 1
    # Every acknowledged UID names the message that process appended.
    for tag, uids in zip(tags, results, strict=True):
        for index, uid in enumerate(uids):
            data = await folder.read(uid)
            assert data.startswith(f"Subject: {tag}-{index}\r\n".encode())


async def test_no_uid_reused_after_concurrent_expunge(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path)
    folder = await (await store.mailbox("shared")).folder(INBOX)
    first = [await folder.append(b"Subject: local\n\nx\n") for _ in range(20)]
    worker = start_worker(tmp_path, "w", PER_PROCESS, expunge_every=3)
    go(tmp_path)
    expunged = []
    for uid in first[::2]:
        expunged += await folder.expunge([uid])
    later = [await folder.append(b"Subject: local2\n\ny\n") for _ in range(20)]
    (theirs,) = await wait_all([worker])
    issued = first + later + theirs
    assert len(issued) == len(set(issued))  # nobody got a UID twice, not even expunged ones
    snap = await folder.snapshot()
    removed_by_worker = set(theirs[::3])
    expected = set(issued) - set(expunged) - removed_by_worker
    assert set(snap.uids) == expected
    assert snap.uidnext > max(issued)
    for uid in expunged:
        try:
            await folder.read(uid)
        except StorageError as exc:
            assert exc.kind is ErrorKind.EXPUNGED
        else:
            raise AssertionError("expunged message still readable")


async def test_snapshots_stay_consistent_while_another_process_appends(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path)
    folder = await (await store.mailbox("shared")).folder(INBOX)
    worker = start_worker(tmp_path, "bg", PER_PROCESS)
    go(tmp_path)
    waiter = asyncio.ensure_future(wait_all([worker]))
    seen_keys: dict[int, str] = {}
    recent: set[int] = set()
    versions = []
    snapshots = 0
    while not waiter.done():
        snap = await folder.snapshot(claim_recent=True)
        snapshots += 1
        versions.append(snap.version)
        assert snap.uids == sorted(snap.uids)
        assert not (snap.recent & recent)  # a recent message is handed out once
        recent |= snap.recent
        for info in snap.messages:
            assert seen_keys.setdefault(info.uid, info.key) == info.key  # UID -> message is fixed
        await asyncio.sleep(0.005)
    ((theirs),) = await waiter
    final = await folder.snapshot(claim_recent=True)
    recent |= final.recent
    assert final.uids == theirs
    assert recent == set(theirs)
    assert versions == sorted(versions)
    assert snapshots > 1


CRASHER = """
import asyncio, sys
from pathlib import Path
from mailserver.storage import FlagMode
from mailserver.storage.maildir import MaildirStore

async def main(root):
    folder = await (await MaildirStore(Path(root)).mailbox("shared")).folder("INBOX")
    i = 0
    while True:
        uid = await folder.append(f"Subject: n{i}\\n\\nx\\n".encode())
        await folder.store_flags([uid], ["\\\\Seen", "$Kw"], FlagMode.ADD)
        print(uid, i, flush=True)  # acknowledged: must survive kill -9
        i += 1

asyncio.run(main(sys.argv[1]))
"""


async def test_kill_9_loses_no_acknowledged_message(tmp_path: Path) -> None:
    # SIGKILL somewhere in the middle of an append or flag change.
    lines = await acknowledged_then_killed(CRASHER, str(tmp_path))
    acked = dict(tuple(map(int, line.split())) for line in lines)

    folder = await (await MaildirStore(tmp_path).mailbox("shared")).folder(INBOX)
    snap = await folder.snapshot()
    for uid, index in acked.items():
        info = snap.find(uid)
        assert info is not None, f"acknowledged uid {uid} lost"
        assert info.flags == {"\\Seen", "$Kw"}
        assert (await folder.read(uid)).startswith(f"Subject: n{index}\r\n".encode())
    # Whatever the crash left half done: the next UID is above everything handed out.
    assert await folder.append(b"after\n") > max(snap.uids)
    assert len(snap.uids) == len(set(snap.uids)) >= len(acked)


FLAG_WORKER = """
import asyncio, sys
from pathlib import Path
from mailserver.storage import FlagMode
from mailserver.storage.maildir import MaildirStore

async def main(root, uid, count):
    go = Path(root) / "go"
    while not go.exists():
        await asyncio.sleep(0.002)
    folder = await (await MaildirStore(Path(root)).mailbox("shared")).folder("INBOX")
    for i in range(count):
        mode = FlagMode.ADD if i % 2 == 0 else FlagMode.REMOVE
        await folder.store_flags([int(uid)], ["\\\\Seen"], mode)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_modseqs_stay_unique_and_counted_across_processes(tmp_path: Path) -> None:
    """Every change in any process gets its own mod-sequence: none lost, none doubled."""
    folder = await (await MaildirStore(tmp_path).mailbox("shared")).folder(INBOX)
    flagged = await folder.append(b"Subject: toggled\n\nx\n")
    changes = 40
    togglers = [
        subprocess.Popen(
            [sys.executable, "-c", FLAG_WORKER, str(tmp_path), str(flagged), str(changes)],
            stderr=subprocess.PIPE,
            text=True,
        )
    ]
    appender = start_worker(tmp_path, "a", changes)
    go(tmp_path)
    await wait_all([appender])
    for proc in togglers:
        _, err = await asyncio.to_thread(proc.communicate, None, 60)
        assert proc.returncode == 0, err
    snap = await folder.snapshot()
    # 1 for the new folder, 1 for the first append, then one per change.
    assert snap.highest_modseq == 2 + changes + changes
    modseqs = [m.modseq for m in snap.messages]
    assert len(set(modseqs)) == len(modseqs)
    restarted = await (await MaildirStore(tmp_path).mailbox("shared")).folder(INBOX)
    assert (await restarted.snapshot()).messages == snap.messages
