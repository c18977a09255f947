"""What the shared web session table costs per request, alone and with a second process.

Each web request reads its session and writes it back (the idle clock, the
counts, flashes): ``SessionStore.get`` + ``save``. Reference: the same on a
plain dict, which is what the per-process table of earlier versions cost.
The "2 processes" line runs the same loop in two processes on one file at
once, as two workers do, so it includes waiting for each other's writes.

    .venv/bin/python bench/bench_web_sessions.py [--sessions 1000] [--requests 5000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import tempfile
import time
from pathlib import Path

from mailserver.web.sessions import SessionStore


def _store(path: Path) -> SessionStore:
    return SessionStore(path, lifetime=3600, idle_timeout=3600, max_sessions=100_000)


def _requests(path: Path, ids: list[str], count: int) -> float:
    """Seconds per get + save over ``count`` requests of random sessions."""
    store = _store(path)
    pick = random.Random(1).choice
    started = time.perf_counter()
    for _ in range(count):
        session = store.get(pick(ids))
        assert session is not None
        session.requests += 1
        store.save(session)
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed / count


def _worker(args: tuple[Path, list[str], int]) -> float:
    return _requests(*args)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=5000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "run" / "web-sessions.sqlite3"
        store = _store(path)
        started = time.perf_counter()
        ids = [store.create(f"user{n}").id for n in range(options.sessions)]
        create = (time.perf_counter() - started) / options.sessions
        store.close()

        table = {session_id: {"requests": 0} for session_id in ids}
        pick = random.Random(1).choice
        started = time.perf_counter()
        for _ in range(options.requests):
            table[pick(ids)]["requests"] += 1
        reference = (time.perf_counter() - started) / options.requests

        one = _requests(path, ids, options.requests)
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            two = pool.map(_worker, [(path, ids, options.requests)] * 2)
    print(f"{options.sessions} sessions, {options.requests} requests each")
    print(f"create (login)        {create * 1e6:8.1f} us")
    print(f"dict (reference)      {reference * 1e6:8.1f} us / request")
    print(f"get+save, 1 process   {one * 1e6:8.1f} us / request")
    print(f"get+save, 2 processes {max(two) * 1e6:8.1f} us / request (slower of the two)")


if __name__ == "__main__":
    main()
