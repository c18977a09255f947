"""Messages on their way in, written to a file as they arrive instead of held in memory.

A 60 MiB SMTP DATA used to sit in one ``bytearray`` until the final dot;
twenty such uploads held 1.2 GB. :class:`SpoolWriter` keeps at most one
write batch (:data:`BATCH`) and the header section (bounded by
``limits.max_header_size``) in memory, whatever the message size; the bytes
go to ``<data_dir>/spool/`` in a worker thread. The finished file is a
:class:`SpooledMessage`: what delivery needs (its path, size and
header section) without its body, which the store copies from the file
(:meth:`mailserver.storage.Folder.append_file`).

Spool files are named after the process that writes them; a file whose
process is gone (``kill -9``) is an upload that was never acknowledged, and
:func:`clean_spool` removes it at start-up. Files of another server process
that shares ``data_dir`` and is still running are left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mailserver.rfc5322 import split_header

log = logging.getLogger(__name__)

#: Octets gathered in memory before one write to the spool file.
BATCH = 256 * 1024
#: The spool's folder under ``data_dir``.
SPOOL_DIR = "spool"
_NAME = re.compile(r"^in\.(\d+)\.\d+\.tmp$")
_counter = itertools.count(1)


class HeaderTooLarge(Exception):
    """The header section is longer than ``limits.max_header_size``."""


@dataclass(frozen=True)
class SpooledMessage:
    """A received message in a file: the hand-off from a protocol to delivery.

    The file is fsync'd only when its writer was asked to (``finish(sync=True)``):
    local delivery copies it into maildirs and fsyncs those copies, so the
    spool file itself never needs to survive a crash.

    ``header`` is the header section as received (fields and their line
    breaks, no blank line); the body starts at ``body_offset`` in the file.
    ``header`` is empty when the message had none.
    """

    path: Path
    #: Octets in the file (the message as the client sent it, dot-stuffing undone).
    size: int
    header: bytes
    body_offset: int
    #: False when the client sent no blank line between header and body.
    had_separator: bool

    def open(self) -> BinaryIO:
        """The whole message for reading in chunks (blocking: use from a worker thread)."""
        return open(self.path, "rb")

    def read_bytes(self) -> bytes:
        """The whole message in memory: only for callers that must have it so."""
        return self.path.read_bytes()

    def discard(self) -> None:
        """Remove the file once every copy is made (or the message was refused)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def spool_dir(data_dir: Path) -> Path:
    return data_dir / SPOOL_DIR


class _HeaderScan:
    """Finds the end of the header section in the first octets of a stream, bounded."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.head = bytearray()
        self.done = False

    def feed(self, data: bytes | memoryview) -> None:
        if self.done:
            return
        # Keep a little more than the limit, so "exactly at the limit" can be told
        # apart from "over it" by the blank line that follows.
        room = self.limit + 4 - len(self.head)
        self.head += data[:room]
        at = _blank_line(self.head)
        if at is not None:
            del self.head[at:]
            self.done = True
        elif len(self.head) >= self.limit + 4:
            self.done = True


def _blank_line(head: bytearray) -> int | None:
    """Offset just past the blank line that ends the header section, if present."""
    if head.startswith(b"\r\n"):
        return 2
    if head.startswith(b"\n"):
        return 1
    ends = [i for i in (head.find(b"\n\r\n"), head.find(b"\n\n")) if i >= 0]
    if not ends:
        return None
    first = min(ends)
    return first + (3 if head.startswith(b"\n\r\n", first) else 2)


class SpoolWriter:
    """Writes one incoming message to a spool file; :meth:`finish` or :meth:`abort` it.

    :meth:`abort` belongs in a ``finally``: after a finish it does nothing,
    otherwise (an exception, a dropped connection, a refused message) it
    removes the file.
    """

    def __init__(self, directory: Path, header_limit: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"in.{os.getpid()}.{next(_counter)}.tmp"
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._batch = bytearray()
        self._scan = _HeaderScan(header_limit)
        self.size = 0
        self._handed_over = False

    async def write(self, data: bytes | memoryview) -> None:
        """Take the next octets of the message; written out once a batch is full."""
        self._scan.feed(data)
        self._batch += data
        self.size += len(data)
        if len(self._batch) >= BATCH:
            await self._flush()

    async def _flush(self) -> None:
        if not self._batch or self._fd is None:
            return
        batch, self._batch = self._batch, bytearray()
        await asyncio.to_thread(_write_all, self._fd, batch)

    async def finish(self, sync: bool = True) -> SpooledMessage:
        """Write out, fsync (unless ``sync`` is false: the caller copies the file into
        durable storage anyway) and close; raises :class:`HeaderTooLarge`."""
        fd = self._fd
        assert fd is not None, "finish() after abort()"
        await self._flush()
        if sync:
            await asyncio.to_thread(os.fsync, fd)
        head = bytes(self._scan.head)
        split = _split(head, self.size, self._scan.limit)
        if split is None:
            raise HeaderTooLarge
        header, body_offset, had_separator = split
        os.close(fd)
        self._fd = None
        self._handed_over = True
        return SpooledMessage(self.path, self.size, header, body_offset, had_separator)

    def abort(self) -> None:
        """Drop the message: close and remove the file (nothing once finished)."""
        self._batch = bytearray()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if not self._handed_over:
            self._handed_over = True
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


def split_head(data: bytes, size: int, limit: int) -> tuple[bytes, int, bool] | None:
    """:func:`_split` of a message's first octets ``data`` (all of it, when it is
    held in memory): (header, body offset, had blank line), None if the header
    section is longer than ``limit``."""
    scan = _HeaderScan(limit)
    scan.feed(data)
    return _split(bytes(scan.head), size, limit)


def _split(head: bytes, size: int, limit: int) -> tuple[bytes, int, bool] | None:
    """(header, body offset, had blank line) from the first octets; None if too large."""
    split = split_header(head)
    if split.had_separator:
        if len(split.header) > limit:
            return None
        return split.header, len(head), True
    header_len = len(head) - len(split.body)
    if len(split.header) > limit or (len(head) < size and header_len >= len(head)):
        # Every octet we kept is still header: the section goes on past the limit.
        return None
    # No blank line: the header (if any) ends where a line that is not a field starts.
    return split.header, header_len, False


def _write_all(fd: int, data: bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def clean_spool(data_dir: Path) -> int:
    """Remove spool files left by processes that no longer run; returns how many."""
    directory = spool_dir(data_dir)
    removed = 0
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return 0
    for name in names:
        match = _NAME.match(name)
        if match is None or writer_alive(int(match.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(directory / name)
            removed += 1
    if removed:
        log.info("removed %d unfinished upload(s) from %s", removed, directory)
    return removed


def writer_alive(pid: int) -> bool:
    """Whether the process that named a temporary file after its pid may still be
    writing it (start-up clean-ups of the spool and of maildir ``tmp/``)."""
    if pid == os.getpid():
        return False  # called at start-up: our own pid's files are from an earlier life
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
