"""Bytes per idle IMAP session (LOGIN + SELECT INBOX, then nothing), by allocation site.

Runs our server in this process (one process, no workers) under
``tracemalloc`` and opens the sessions from a child process (its memory is
not counted), then prints Python-level bytes per session and the allocation
sites that hold most of them. What the kernel holds per socket and what
the allocator keeps back is not in these numbers; compare.py's RSS is::

    .venv/bin/python bench/idle_memory.py --sessions 1000
    .venv/bin/python bench/idle_memory.py --sessions 1000 --frames 6 --top 40
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import resource
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import compare
import loadgen


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def workloads(ports: dict[str, int], users: list[str], seconds: float) -> None:
    """The child: compare.py's IMAP, POP3 and SMTP workloads, shortened, before the idle one."""

    async def main() -> None:
        args = compare.parse_args(["--duration", str(seconds), "--smtp-messages", "500"])
        await compare.imap_run(ports["imap"], users, args)
        await compare.pop3_run(ports["pop3"], users, args)
        await compare.smtp_run(ports["smtp"], args)

    asyncio.run(main())


def clients(port: int, users: list[str], count: int, ready: Any, done: Any) -> None:
    """The child: open ``count`` idle sessions, say so, hold them until told."""

    async def main() -> None:
        sessions = await loadgen.idle_sessions(port, users, count)
        ready.set()
        await asyncio.to_thread(done.wait)
        for session in sessions:
            session.close()

    asyncio.run(main())


async def measure(args: argparse.Namespace) -> None:
    from mailserver.auth import UserDatabase
    from mailserver.config import load_config
    from mailserver.server import start_server
    from tests.support.server import write_config

    workdir = Path(tempfile.mkdtemp(prefix="mailserver-idlemem-"))
    users = [f"u{n:03d}" for n in range(args.users)]
    config_path = write_config(
        workdir,
        log_level="WARNING",
        limits={"max_connections": 30000, "max_connections_per_ip": 30000},
        transcripts={"keep_sessions": 0 if args.no_transcripts else 200},
    )
    config = load_config(config_path)
    UserDatabase(config.user_db_path, scheme=config.auth.password_scheme).add_many(
        (u, compare.password(u)) for u in [*users, compare.SINK]
    )
    for user in [*users, compare.SINK]:
        compare.seed(config.mail_dir / user, args.mailbox, 3000)
    running = await start_server(config)
    ports = running.ports()
    port = ports["imap"]
    ctx = multiprocessing.get_context("spawn")
    if args.workloads:
        # What the other workloads leave behind, before any idle session.
        tracemalloc.start(args.frames)
        start = tracemalloc.take_snapshot()
        child = ctx.Process(target=workloads, args=(ports, users, args.workloads))
        child.start()
        await asyncio.to_thread(child.join)
        await asyncio.sleep(2)
        gc.collect()
        left = tracemalloc.take_snapshot().compare_to(start, "traceback")
        tracemalloc.stop()
        kept = sum(s.size_diff for s in left)
        print(f"left behind by the IMAP, POP3 and SMTP workloads: {kept / 2**20:.1f} MB")
        print(f"RSS after them {rss_mb():.1f} MB")
        if args.trim:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
            print(f"RSS after malloc_trim {rss_mb():.1f} MB")
        for stat in left[: args.top]:
            where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in stat.traceback)
            print(f"{stat.size_diff / 1024:8.0f} KB  {stat.count_diff:7d} obj  {where}")
    # Warm up: every user logged in once (verify cache, folder state), then measure.
    await loadgen.new_client_latency(port, users[0], 3)
    warm = await loadgen.idle_sessions(port, users, len(users))
    for session in warm:
        session.close()
    await asyncio.sleep(1)
    gc.collect()
    tracemalloc.start(args.frames)
    before = tracemalloc.take_snapshot()
    ready, done = ctx.Event(), ctx.Event()
    child = ctx.Process(target=clients, args=(port, users, args.sessions, ready, done))
    child.start()
    await asyncio.to_thread(ready.wait)
    await asyncio.sleep(args.settle)
    gc.collect()
    after = tracemalloc.take_snapshot()
    done.set()
    stats = after.compare_to(before, "traceback")
    grown = sum(s.size_diff for s in stats)
    print(f"{args.sessions} sessions: {grown / args.sessions:.0f} bytes/session (Python heap)")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"maxrss of this process {maxrss:.0f} MB")
    for stat in stats[: args.top]:
        if stat.size_diff <= 0:
            continue
        where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(stat.traceback))
        each, objects = stat.size_diff / args.sessions, stat.count_diff / args.sessions
        print(f"{each:8.0f} B  {objects:5.1f} obj  {where}")
    tracemalloc.stop()
    child.join(timeout=60)
    await running.close(grace=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--mailbox", type=int, default=30)
    parser.add_argument("--frames", type=int, default=1, help="traceback depth per site")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--no-transcripts", action="store_true")
    parser.add_argument("--trim", action="store_true", help="malloc_trim after the workloads")
    parser.add_argument(
        "--settle",
        type=float,
        default=1.0,
        help="seconds between the last session opened and the reading (quiet transcripts"
        " are packed after a few)",
    )
    parser.add_argument(
        "--workloads", type=float, default=0, help="seconds of IMAP and POP3 load (and SMTP) first"
    )
    args = parser.parse_args()
    try:
        import uvloop  # as the server runs
    except ImportError:
        asyncio.run(measure(args))
    else:
        uvloop.run(measure(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
