"""ParsePool: the cold parse of many messages on another core.

A cold ``FETCH 1:* (ENVELOPE BODYSTRUCTURE)`` of a big folder is mostly the
MIME parse, and the command runs on one event loop while the machine's
other cores idle. This module keeps a few helper processes per server
process (started on first use, only by a FETCH with many uncached
messages, see :data:`POOL_MIN`) that are handed batches of message file
paths. A helper reads each file, parses it, renders ENVELOPE, BODY and
BODYSTRUCTURE, appends the sidecar entries of the batch to the folder's
sidecar file itself (one ``O_APPEND`` write per batch, as the event loop
appends its own) and answers only the three renderings per message. So
the event loop's share per message is a few dictionary operations: the
sidecar text (most of a parse's size) never crosses back to it.

Transport: a Unix socketpair per helper, read by the event loop with an
asyncio protocol (no executor thread that would fight the loop for the
GIL, as ``ProcessPoolExecutor``'s did), frames of a 4-byte length and a
``marshal`` payload (built-in types only, C speed both ways). Requests are
pipelined; each helper answers in order.

The helper runs exactly :meth:`ParsedMessage.parse` on exactly the bytes
``Folder.read`` would return (``to_wire`` of the file), so the answers are
byte-identical to the in-process path (tests/unit/imap/mime/test_pool.py).
A file that is gone or changed size (expunged, renamed by a flag change)
comes back as None and the caller parses it the ordinary way, which knows
how to find a renamed file and reports an expunged one.

The helpers are fresh interpreters (``sys.executable -c``: no fork of a
process with threads and an event loop); they ignore SIGINT/SIGHUP (the
server decides when they end), die with their parent
(``PR_SET_PDEATHSIG``) and end when their socket closes, which
:func:`shutdown` does when the server closes. A helper that dies fails only
the batches it held (their callers parse in the process) and is replaced
by the next big FETCH.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import marshal
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

from mailserver.imap.mime import parsehelper
from mailserver.imap.mime.parsehelper import (
    Answer,
    Item,
    Rendered,
    parse_batch,
    parse_one,
    read_file,
    serve,
)

log = logging.getLogger(__name__)

#: A FETCH needing the structure of at least this many messages uses the pool.
POOL_MIN = 512
#: Messages per call into the pool (one round trip each).
BATCH = 128
#: Batches in the pool's hands (unfinished) at any time.
AHEAD = 4
#: How far ahead of the writer (in batches) anything is started; within the
#: parse cache's count (``cache.MAX_PARSED``), so nothing is parsed twice.
MAX_LEAD = 16
#: Message files looked up per thread call.
LOCATE = 1024
#: Helper processes per server process. One is enough to keep the event
#: loop busy writing on a 2-core machine; more cores, a few more.
WORKERS = max(1, min(3, (os.cpu_count() or 2) - 1))
_HEADER = parsehelper.HEADER
#: The helper's side lives in :mod:`.parsehelper` (a light import for the
#: helper processes); re-exported here, where the cache and the tests use it.
__all__ = [
    "Answer",
    "Item",
    "ParsePool",
    "PoolBroken",
    "Rendered",
    "parse_batch",
    "parse_one",
    "read_file",
    "serve",
    "shutdown",
]


# ------------------------------------------------------------- the loop side


class PoolBroken(Exception):
    """The helper died or its socket failed; the batch is parsed in the process."""


class _Helper(asyncio.Protocol):
    """One helper process and its socket: requests written, answers matched in order."""

    def __init__(self, process: subprocess.Popen[bytes], sock: socket.socket) -> None:
        self.process = process
        self.sock = sock
        self.transport: asyncio.Transport | None = None
        self.waiting: collections.deque[asyncio.Future[Answer]] = collections.deque()
        self._buffer = bytearray()
        self.alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A socket's transport (uvloop's ones do not subclass asyncio's).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        size = _HEADER.size
        while len(buffer) >= size:
            (length,) = _HEADER.unpack_from(buffer)
            if len(buffer) < size + length:
                break
            answer = marshal.loads(bytes(buffer[size : size + length]))
            del buffer[: size + length]
            if self.waiting:
                future = self.waiting.popleft()
                if not future.done():
                    future.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        waiting, self.waiting = self.waiting, collections.deque()
        for future in waiting:
            if not future.done():
                future.set_exception(PoolBroken("parse helper gone"))
        self.reap()

    def send(self, payload: Any) -> asyncio.Future[Answer]:
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        if not self.alive or self.transport is None or self.transport.is_closing():
            future.set_exception(PoolBroken("parse helper gone"))
            return future
        body = marshal.dumps(payload)
        self.waiting.append(future)
        self.transport.write(_HEADER.pack(len(body)) + body)
        return future

    def close(self) -> None:
        """End the helper: its socket closes, it reads EOF and exits."""
        self.alive = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # EOF now, not at the loop's next turn
        try:
            if self.transport is not None:
                self.transport.close()
                return
        except RuntimeError:  # its event loop is closed already
            pass
        self.sock.close()

    def reap(self, timeout: float = 0.0) -> bool:
        """Collect the ended process (no zombie left); True once it has."""
        if self.process.poll() is not None:
            return True
        if timeout:
            try:
                self.process.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                self.process.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(1.0)
        return self.process.returncode is not None


def _start_helper() -> tuple[subprocess.Popen[bytes], socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        root = str(Path(__file__).resolve().parents[3])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        code = f"from mailserver.imap.mime.parsehelper import serve; serve(0, {os.getpid()})"
        # The socket is the helper's stdin: passed under its own number, it
        # could be 0 itself in a server started with stdin closed.
        process = subprocess.Popen(
            [sys.executable, "-B", "-c", code], stdin=theirs.fileno(), env=env, close_fds=True
        )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()
    ours.setblocking(False)
    return process, ours


class ParsePool:
    """The lazily started helper processes of this server process."""

    def __init__(self, workers: int = WORKERS) -> None:
        self.workers = workers
        self._helpers: list[_Helper] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ended: list[_Helper] = []
        self._starting = asyncio.Lock()

    async def _get(self) -> _Helper:
        """The helper with the fewest batches in hand; one is started (by one
        caller at a time) while fewer than :attr:`workers` run."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self.shutdown()
            self._loop = loop
            self._starting = asyncio.Lock()
        async with self._starting:
            self._helpers = [helper for helper in self._helpers if helper.alive]
            self._ended = [helper for helper in self._ended if not helper.reap()]
            if len(self._helpers) < self.workers:
                process, sock = _start_helper()
                helper = _Helper(process, sock)
                try:
                    await loop.create_connection(lambda: helper, sock=sock)
                except BaseException:
                    helper.close()
                    process.kill()
                    self._ended.append(helper)
                    raise
                self._helpers.append(helper)
                return helper
        return min(self._helpers, key=lambda helper: len(helper.waiting))

    async def parse(self, sidecar: str | None, items: list[Item]) -> Answer | None:
        """The renderings of ``items`` (path, size, key) in order, and the keys whose
        entries were appended to ``sidecar``; None if the pool failed."""
        try:
            helper = await self._get()
            answer = await helper.send((sidecar, items))
        except (PoolBroken, OSError, ValueError, EOFError):
            log.warning("parse pool failed; parsing in the process", exc_info=True)
            self._drop_dead()
            return None
        results, keys = answer
        if len(results) != len(items):
            return None
        return results, keys

    def _drop_dead(self) -> None:
        for helper in self._helpers:
            if not helper.alive:
                helper.close()
                self._ended.append(helper)
        self._helpers = [helper for helper in self._helpers if helper.alive]

    def shutdown(self, wait: float = 0.0) -> None:
        """End the helpers (a FETCH waiting for one falls back to its own parse);
        a later parse starts new ones. ``wait``: seconds to wait for each to exit."""
        helpers, self._helpers = self._helpers, []
        for helper in helpers:
            helper.close()
        self._ended.extend(helpers)
        self._ended = [helper for helper in self._ended if not helper.reap(wait)]

    @property
    def running(self) -> bool:
        return any(helper.alive for helper in self._helpers)

    def pids(self) -> list[int]:
        return [helper.process.pid for helper in self._helpers if helper.alive]


#: The process's pool (one per server process; ``workers: N`` means N pools).
POOL = ParsePool()


def shutdown() -> None:
    """Called when the server closes."""
    POOL.shutdown(wait=2.0)
