"""Reading and writing a folder's ``mailserver-modseq`` journal.

Every method expects the caller to hold the folder's locks (in-process and
``flock``): then no other writer can be half-way through an append while we
read, and a line without its newline can only be the torn tail of a crash.

Mod-sequences must never go backwards while the UIDVALIDITY stays. So when
the journal is missing, damaged or belongs to another UIDVALIDITY, a fresh
space starts above anything it (or this process) ever handed out: the current
time in microseconds, which no count of fsync'd changes can overtake.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from pathlib import Path
from typing import BinaryIO

from mailserver.storage.maildir import io
from mailserver.storage.maildir.modseq import ModseqError, ModseqLog, salvage_highest

log = logging.getLogger(__name__)

_FileSig = tuple[int, int, int]


def fresh_base(above: int = 0) -> int:
    """Start of a new mod-sequence space: now in microseconds, and above ``above``."""
    return max(time.time_ns() // 1000, above + 1)


class ModseqJournal:
    """The in-memory ``ModseqLog`` of one folder and the file it mirrors."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.log: ModseqLog | None = None
        #: (inode, size, mtime) of the file as of our last read or write.
        self._sig: _FileSig | None = None
        #: Bytes of the file already applied to ``log``.
        self._offset = 0
        #: The header line as on disk; a different one means a rewritten file.
        self._header = b""
        self._pending: list[str] = []
        #: Memory is ahead of the file within the current locked section.
        self._dirty = False
        #: The next flush writes the whole file (fresh space, torn tail, compaction).
        self._rewrite = False

    # --------------------------------------------------------------- load

    def load(self, uidvalidity: int) -> ModseqLog:
        """The journal as on disk, read incrementally when only appends happened.

        Within a locked section that already changed the log, memory is the
        truth (the file catches up at ``flush``).
        """
        current = self.log
        if self._dirty and current is not None and current.uidvalidity == uidvalidity:
            return current
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return self._fresh(uidvalidity, 0, "missing")
        try:
            st = os.fstat(fd)
            sig = (st.st_ino, st.st_size, st.st_mtime_ns)
            if current is not None and sig == self._sig and current.uidvalidity == uidvalidity:
                return current
            with open(fd, "rb", closefd=False) as handle:
                if self._can_continue(handle, st) and current is not None:
                    handle.seek(self._offset)
                    tail = handle.read()
                    try:
                        consumed = current.feed(tail)
                    except ModseqError as exc:
                        return self._fresh(uidvalidity, exc.highest, "corrupt")
                    self._offset += consumed
                    self._rewrite = consumed < len(tail)
                    self._sig = sig
                    return self._check_validity(current, uidvalidity)
                handle.seek(0)
                data = handle.read()
        finally:
            os.close(fd)
        try:
            parsed, consumed = ModseqLog.parse(data)
        except ModseqError as exc:
            return self._fresh(uidvalidity, max(exc.highest, salvage_highest(data)), "corrupt")
        self.log = parsed
        self._offset = consumed
        self._header = data[: data.index(b"\n") + 1]
        self._sig = sig
        self._rewrite = consumed < len(data)  # a torn tail: never append after it
        return self._check_validity(parsed, uidvalidity)

    def _can_continue(self, handle: BinaryIO, st: os.stat_result) -> bool:
        """Whether the file is ours with records appended (not rewritten or truncated)."""
        if self._sig is None or st.st_ino != self._sig[0] or st.st_size < self._offset:
            return False
        return handle.read(len(self._header)) == self._header

    def _check_validity(self, current: ModseqLog, uidvalidity: int) -> ModseqLog:
        if current.uidvalidity != uidvalidity:
            return self._fresh(uidvalidity, current.highest, "uidvalidity changed")
        return current

    def _fresh(self, uidvalidity: int, above: int, why: str) -> ModseqLog:
        previous = self.log.highest if self.log is not None else 0
        base = fresh_base(max(above, previous))
        if why == "corrupt":
            log.warning("%s: corrupt mod-sequence journal, starting above it", self.path)
        else:
            log.info("%s: new mod-sequence space (%s)", self.path, why)
        self.log = ModseqLog(uidvalidity, highest=base, floor=base)
        self._sig = None
        self._rewrite = True
        self._dirty = True
        return self.log

    # -------------------------------------------------------------- write

    def record(self, line: str) -> None:
        """Queue a line returned by ``ModseqLog.touch``/``expunge`` for the next flush."""
        self._pending.append(line)
        self._dirty = True

    def flush(self) -> None:
        """Make queued records durable: an fsync'd append, or a rewrite when due."""
        current = self.log
        if current is None or not (self._pending or self._rewrite or current.needs_compaction()):
            self._pending.clear()
            self._dirty = False
            return
        try:
            if self._rewrite or current.needs_compaction() or not self._append():
                self._write_all(current)
        except BaseException:
            self.discard()
            raise
        self._pending.clear()
        self._dirty = False

    def discard(self) -> None:
        """Forget unflushed changes (the section failed): read the truth next time.

        Renames already done are not lost: the next scan finds their letters
        differ from the journal and gives them new mod-sequences.
        """
        self.log = None
        self._sig = None
        self._pending.clear()
        self._dirty = False
        self._rewrite = False

    def _append(self) -> bool:
        data = "".join(self._pending).encode("utf-8", "surrogateescape")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        except FileNotFoundError:
            return False
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        expected = self._offset + len(data)
        self._offset = st.st_size
        # Anything but our own bytes at the end means we lost track: re-read next time.
        self._sig = (st.st_ino, st.st_size, st.st_mtime_ns) if st.st_size == expected else None
        return True

    def _write_all(self, current: ModseqLog) -> None:
        current.generation = secrets.token_hex(8)
        data = current.serialize().encode("utf-8", "surrogateescape")
        io.atomic_replace(self.path, data)
        st = os.stat(self.path)
        self._header = data[: data.index(b"\n") + 1]
        self._offset = len(data)
        self._sig = (st.st_ino, st.st_size, st.st_mtime_ns)
        self._rewrite = False


def initial_journal(uidvalidity: int) -> bytes:
    """The journal of a brand-new folder: highest mod-sequence 1, complete expunge history."""
    return ModseqLog(uidvalidity, highest=1, floor=0).serialize().encode()
