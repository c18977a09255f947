"""Benchmark the maildir store against a bare-bones reference in the same run.

Usage: ``python bench/bench_store.py [--dir PATH]``

Absolute timings depend on the disk (fsync dominates appends), so every
number is printed next to a reference measured in the same invocation on the
same file system:

* append: the reference writes the same bytes to ``tmp/``, fsyncs the file
  and renames it into ``new/`` -- the least any durable maildir delivery
  does. The store additionally fsyncs the directory, takes the lock,
  rewrites ``dovecot-uidlist`` (fsync'd) and appends the message's
  mod-sequence to ``mailserver-modseq`` (one more fsync, no rename) before
  it returns a UID.
* flag change: the reference renames the file to its new ``:2,`` name and
  fsyncs the directory -- the least a durable maildir flag change does. The
  store additionally takes the lock and appends the mod-sequence (fsync'd).
* snapshot: the reference lists ``new/`` and ``cur/`` and stats every file --
  the least any maildir reader does to learn sizes and dates.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailserver.storage import INBOX, SEEN, FlagMode
from mailserver.storage.maildir import MaildirStore
from mailserver.storage.maildir.folder import MaildirFolder

APPENDS = 500
FOLDER_SIZE = 2000
REPEATS = 7
BODY = (
    b"From: bench@example.org\r\nTo: user@example.org\r\nSubject: benchmark\r\n\r\n"
    + b"Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n" * 60
)


def reference_append(root: Path, count: int) -> float:
    for sub in ("tmp", "new", "cur"):
        (root / sub).mkdir(parents=True)
    start = time.perf_counter()
    for i in range(count):
        tmp = root / "tmp" / f"ref{i}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, BODY.replace(b"\r\n", b"\n"))
        os.fsync(fd)
        os.close(fd)
        os.rename(tmp, root / "new" / f"ref{i}")
    return time.perf_counter() - start


async def open_inbox(root: Path) -> MaildirFolder:
    mailbox = await MaildirStore(root).mailbox("bench")
    return await mailbox.folder(INBOX)


async def store_append(root: Path, count: int) -> float:
    folder = await open_inbox(root)
    start = time.perf_counter()
    for _ in range(count):
        await folder.append(BODY)
    return time.perf_counter() - start


def reference_flags(root: Path, count: int) -> float:
    """Toggle ``S`` on one file ``count`` times: rename + directory fsync each."""
    (root / "cur").mkdir(parents=True)
    name = root / "cur" / "ref:2,"
    name.write_bytes(BODY)
    start = time.perf_counter()
    for i in range(count):
        new = root / "cur" / ("ref:2,S" if i % 2 == 0 else "ref:2,")
        os.rename(name, new)
        fd = os.open(root / "cur", os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(fd)
        os.close(fd)
        name = new
    return time.perf_counter() - start


async def store_flags(root: Path, count: int) -> float:
    folder = await open_inbox(root)
    uid = await folder.append(BODY)
    start = time.perf_counter()
    for i in range(count):
        mode = FlagMode.ADD if i % 2 == 0 else FlagMode.REMOVE
        await folder.store_flags([uid], [SEEN], mode)
    return time.perf_counter() - start


def fill_folder(maildir: Path, count: int) -> None:
    """Messages as another tool would leave them (no fsync: only reading is timed)."""
    data = BODY.replace(b"\r\n", b"\n")
    for i in range(count):
        name = f"{1_700_000_000 + i}.M{i}P1Q{i}.bench,S={len(data)},W={len(BODY)}:2,S"
        (maildir / "cur" / name).write_bytes(data)


def age_dirs(maildir: Path) -> None:
    """Push directory mtimes out of the store's dirty window, as after a quiet second."""
    old = time.time() - 10
    for sub in ("new", "cur"):
        os.utime(maildir / sub, (old, old))


def reference_scan(maildir: Path) -> int:
    total = 0
    for sub in ("new", "cur"):
        with os.scandir(maildir / sub) as entries:
            for entry in entries:
                total += entry.stat().st_size
    return total


def median_time(func: Callable[[], object], repeats: int = REPEATS) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def median_async(make: Callable[[], object], repeats: int = REPEATS) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        await make()  # type: ignore[misc]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def report(label: str, ours: float, reference: float, unit_count: int = 1) -> None:
    per = ours / unit_count * 1e3
    ref_per = reference / unit_count * 1e3
    print(f"{label:<42} {per:9.3f} ms   ref {ref_per:9.3f} ms   ratio {ours / reference:6.2f}x")


async def main(base: Path) -> None:
    print(f"file system under test: {base}")
    # --- append ---------------------------------------------------------
    ref_append = reference_append(base / "ref-append", APPENDS)
    ours_append = await store_append(base / "store-append", APPENDS)
    report(f"append x{APPENDS} (per message)", ours_append, ref_append, APPENDS)
    ref_flags = reference_flags(base / "ref-flags", APPENDS)
    ours_flags = await store_flags(base / "store-flags", APPENDS)
    report(f"flag change x{APPENDS} (per change)", ours_flags, ref_flags, APPENDS)

    # --- snapshot -------------------------------------------------------
    root = base / "store-snap"
    folder = await open_inbox(root)
    fill_folder(folder.path, FOLDER_SIZE)
    ref_scan = median_time(lambda: reference_scan(folder.path))

    start = time.perf_counter()
    snap = await folder.snapshot()  # assigns 2000 UIDs, writes the uid list
    first = time.perf_counter() - start
    assert len(snap.messages) == FOLDER_SIZE
    report(f"first snapshot, {FOLDER_SIZE} msgs (assigns UIDs)", first, ref_scan)

    async def cold() -> None:
        fresh = await open_inbox(root)  # a restarted server: uid list on disk, no cache
        await fresh.snapshot()

    report(
        f"cold snapshot, {FOLDER_SIZE} msgs (server restart)", await median_async(cold), ref_scan
    )

    report(
        f"re-scan snapshot, {FOLDER_SIZE} msgs (dirty window)",
        await median_async(folder.snapshot),
        ref_scan,
    )
    age_dirs(folder.path)
    await folder.snapshot()
    report(
        f"unchanged snapshot, {FOLDER_SIZE} msgs (cached)",
        await median_async(folder.snapshot),
        ref_scan,
    )
    await folder.append(BODY)
    age_dirs(folder.path)
    report(
        f"snapshot after 1 append, {FOLDER_SIZE + 1} msgs",
        await median_async(folder.snapshot, repeats=1),
        ref_scan,
    )

    # --- append into a big folder: the uid list rewrite grows with the folder
    start = time.perf_counter()
    for _ in range(100):
        await folder.append(BODY)
    big = time.perf_counter() - start
    report(
        f"append x100 into {FOLDER_SIZE}-msg folder (per msg)", big, ref_append / APPENDS * 100, 100
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--dir", type=Path, help="where to create test maildirs (default: a temp dir)"
    )
    args = parser.parse_args()
    base_dir = Path(tempfile.mkdtemp(prefix="bench-store-", dir=args.dir))
    try:
        asyncio.run(main(base_dir))
    finally:
        shutil.rmtree(base_dir, ignore_errors=True)
