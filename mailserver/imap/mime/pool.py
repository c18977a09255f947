"""ParsePool: the cold parse of many messages on another core.

A cold ``FETCH 1:* (ENVELOPE BODYSTRUCTURE)`` of a big folder is mostly the
MIME parse, and the command runs on one event loop while the machine's
other cores idle. This module keeps one small process pool per server
process (created on first use, only by a FETCH with many uncached
messages, see :data:`POOL_MIN`) that is handed batches of message file
paths and answers each message's :class:`ParsedMessage` together with its
ready-encoded sidecar entry -- so reading the file, parsing, rendering
ENVELOPE/BODYSTRUCTURE and ``json.dumps`` all happen off the loop, which
meanwhile writes the responses of the batch before.

The worker runs exactly :meth:`ParsedMessage.parse` on exactly the bytes
``Folder.read`` would return (``to_wire`` of the file), so the answers are
byte-identical to the in-process path (tests/unit/imap/mime/test_pool.py).
A file that is gone or changed size (expunged, renamed by a flag change)
comes back as None and the caller parses it the ordinary way, which knows
how to find a renamed file and reports an expunged one.

The pool uses ``spawn`` (no fork of a process with threads and an event
loop); its processes ignore SIGINT/SIGHUP (the server decides when they
end), die with their parent (``PR_SET_PDEATHSIG``) and are shut down by
:func:`shutdown` when the server closes. A broken pool (a worker killed)
is dropped and the next big FETCH makes a new one; meanwhile callers fall
back to parsing in the process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import json
import logging
import multiprocessing
import os
import signal
from concurrent.futures.process import BrokenProcessPool

from mailserver.imap.mime.message import ParsedMessage
from mailserver.storage.maildir.flags import to_wire

log = logging.getLogger(__name__)

#: A FETCH needing the structure of at least this many messages uses the pool.
POOL_MIN = 512
#: Messages per call into the pool (one pickle round trip each).
BATCH = 128
#: Batches in the pool's hands (unfinished) at any time.
AHEAD = 4
#: How far ahead of the writer (in batches) anything is started; within the
#: parse cache's count (``cache.MAX_PARSED``), so nothing is parsed twice.
MAX_LEAD = 16
#: Message files looked up per thread call.
LOCATE = 1024
#: Worker processes of the pool, per server process. One is enough to keep
#: the event loop busy writing on a 2-core machine; more cores, a few more.
WORKERS = max(1, min(3, (os.cpu_count() or 2) - 1))
#: Sidecar entries bigger than this are not persisted (as ``cache.MAX_PERSISTED_ENTRY``).
MAX_PERSISTED_ENTRY = 64 * 1024

#: One parsed message from the pool: size, ENVELOPE, BODY, BODYSTRUCTURE, the
#: :meth:`ParsedMessage.to_json` text, and whether the sidecar may keep it.
#: Plain bytes and strings: they cross the pipe far cheaper than the objects
#: of a part tree (see :meth:`ParsedMessage.from_entry`).
Parsed = tuple[int, bytes, bytes, bytes, str, bool]

_PR_SET_PDEATHSIG = 1


def _init_worker(parent: int) -> None:
    """In each pool process: leave signals to the server, die with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the executor's closed pipe still ends the worker
    if os.getppid() != parent:
        os._exit(0)


def parse_one(path: str, size: int) -> Parsed | None:
    """The parse of one message file as ``Folder.read`` sees it; None if it is gone or changed."""
    try:
        with open(path, "rb") as handle:
            data = to_wire(handle.read())
    except OSError:
        return None
    if len(data) != size:
        return None
    parsed = ParsedMessage.parse(data)
    entry = json.dumps(parsed.to_json(), separators=(",", ":"))
    return (
        parsed.size,
        parsed.envelope(),
        parsed.bodystructure(False),
        parsed.bodystructure(True),
        entry,
        len(parsed.header) <= MAX_PERSISTED_ENTRY,
    )


def parse_files(items: list[tuple[str, int]]) -> list[Parsed | None]:
    """Runs in a pool process: :func:`parse_one` for each (path, size)."""
    return [parse_one(path, size) for path, size in items]


class ParsePool:
    """The lazily created process pool of this server process."""

    def __init__(self, workers: int = WORKERS) -> None:
        self.workers = workers
        self._executor: concurrent.futures.ProcessPoolExecutor | None = None

    def _get(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._executor is None:
            self._executor = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(os.getpid(),),
            )
        return self._executor

    async def parse(self, items: list[tuple[str, int]]) -> list[Parsed | None] | None:
        """The parses of ``items`` (path, size), in order; None if the pool failed."""
        loop = asyncio.get_running_loop()
        try:
            executor = self._get()
            return await loop.run_in_executor(executor, parse_files, items)
        except (BrokenProcessPool, OSError, RuntimeError):
            log.warning("parse pool failed; parsing in the process", exc_info=True)
            self.shutdown()
            return None

    def shutdown(self) -> None:
        """Let the pool's processes end once the work handed to them is done (at
        most :data:`AHEAD` batches per FETCH; a FETCH waiting for one gets it);
        a later parse starts a new pool."""
        executor, self._executor = self._executor, None
        if executor is not None:
            with contextlib.suppress(Exception):
                executor.shutdown(wait=False)

    @property
    def running(self) -> bool:
        return self._executor is not None


#: The process's pool (one per server process; ``workers: N`` means N pools).
POOL = ParsePool()


def shutdown() -> None:
    """Called when the server closes."""
    POOL.shutdown()
