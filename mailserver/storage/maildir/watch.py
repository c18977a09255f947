"""Hear about changes other programs make to a maildir (Linux inotify), for IDLE.

Our own processes announce their changes on the event channel; inotify is
the fallback for writers that do not: Postfix's or Dovecot's local
delivery, a script dropping a file into ``new/``, another ``mailserver
serve`` on the same data_dir. Only folders some session listens to (an
IMAP session has them selected) are watched: ``new/`` and ``cur/``, two
watches per folder, not per session.

inotify sees changes made through this machine's kernel only: writes by
another NFS client are invisible (see README, Architecture notes). Where
inotify is missing or its watch limit is reached, sessions fall back to
their periodic re-read, as before.

A change this process made, or heard about on the event channel, has
already woken the sessions by the time the inotify events are looked at
(they are collected for :data:`SETTLE` seconds first); those are skipped,
so a flag change costs no second re-read.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

#: Seconds inotify events are collected before the sessions are woken.
SETTLE = 0.05

_IN_MOVED_FROM = 0x40
_IN_MOVED_TO = 0x80
_IN_CREATE = 0x100
_IN_DELETE = 0x200
_IN_DELETE_SELF = 0x400
_IN_MOVE_SELF = 0x800
_IN_Q_OVERFLOW = 0x4000
_IN_IGNORED = 0x8000
_MASK = _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE | _IN_DELETE_SELF | _IN_MOVE_SELF
_EVENT = struct.Struct("iIII")


class Watched(Protocol):
    """What the watcher needs of a folder (``MaildirFolder``)."""

    path: Path
    #: ``time.monotonic()`` of the last time its sessions were woken.
    last_wake: float

    def notify_local(self) -> None: ...


class FolderWatcher:
    """One inotify instance per store and event loop; folders come and go."""

    def __init__(self) -> None:
        self._fd = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._libc: ctypes.CDLL | None = None
        self._folders: dict[int, Watched] = {}  # watch descriptor -> folder
        self._watches: dict[int, list[int]] = {}  # id(folder) -> its descriptors
        self._pending: dict[int, tuple[Watched, float]] = {}
        self._flush: asyncio.TimerHandle | None = None
        self.disabled = not sys.platform.startswith("linux")
        #: Folders with listening sessions, whether inotify watches them or not.
        self._listened: set[int] = set()
        #: Told ``True`` when the first folder gains listeners, ``False`` when the
        #: last one loses them (the store listens to other processes only then).
        self.on_listened: Callable[[bool], None] | None = None

    @property
    def listened(self) -> bool:
        """Whether any folder of this store has listening sessions in this process."""
        return bool(self._listened)

    def _listen(self, folder: Watched, listening: bool) -> None:
        before = bool(self._listened)
        if listening:
            self._listened.add(id(folder))
        else:
            self._listened.discard(id(folder))
        if before != bool(self._listened) and self.on_listened is not None:
            self.on_listened(not before)

    def watch(self, folder: Watched) -> None:
        """Start watching ``folder`` (called on the event loop); quietly does nothing
        where inotify is not available."""
        self._listen(folder, True)
        if self.disabled or id(folder) in self._watches:
            return
        if not self._ready():
            return
        assert self._libc is not None
        descriptors: list[int] = []
        for sub in ("new", "cur"):
            path = os.fsencode(os.path.join(os.fspath(folder.path), sub))
            wd = self._libc.inotify_add_watch(self._fd, path, _MASK)
            if wd < 0:
                error = ctypes.get_errno()
                if error == 28:  # ENOSPC: fs.inotify.max_user_watches reached
                    log.warning(
                        "inotify watch limit reached; IDLE falls back to its periodic re-read"
                    )
                    self.disabled = True
                for descriptor in descriptors:
                    self._remove(descriptor)
                return
            descriptors.append(wd)
            self._folders[wd] = folder
        self._watches[id(folder)] = descriptors

    def unwatch(self, folder: Watched) -> None:
        self._listen(folder, False)
        for wd in self._watches.pop(id(folder), []):
            self._remove(wd)
        self._pending.pop(id(folder), None)

    def _remove(self, wd: int) -> None:
        self._folders.pop(wd, None)
        if self._libc is not None and self._fd >= 0:
            self._libc.inotify_rm_watch(self._fd, wd)

    def _ready(self) -> bool:
        """An inotify descriptor read by the running loop (a new one if the loop changed)."""
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._fd >= 0:
            return True
        self.close()
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError):
            fd = -1
        if fd < 0:
            log.info("inotify is not available; IDLE relies on its periodic re-read")
            self.disabled = True
            return False
        self._libc, self._fd, self._loop = libc, fd, loop
        loop.add_reader(fd, self._readable)
        return True

    def _readable(self) -> None:
        now = time.monotonic()
        touched: set[int] = set()
        overflow = False
        while True:
            try:
                data = os.read(self._fd, 65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            offset = 0
            while offset + _EVENT.size <= len(data):
                wd, mask, _, length = _EVENT.unpack_from(data, offset)
                offset += _EVENT.size + length
                if mask & _IN_Q_OVERFLOW:
                    overflow = True
                elif mask & _IN_IGNORED:
                    self._folders.pop(wd, None)
                elif wd in self._folders:
                    touched.add(wd)
        if overflow:  # events were lost: look at everything watched
            touched = set(self._folders)
        folders = [self._folders[wd] for wd in touched if wd in self._folders]
        for folder in folders:
            self._pending.setdefault(id(folder), (folder, now))
        if self._pending and self._flush is None and self._loop is not None:
            self._flush = self._loop.call_later(SETTLE, self._wake)

    def _wake(self) -> None:
        self._flush = None
        pending, self._pending = self._pending, {}
        for folder, since in pending.values():
            if folder.last_wake < since:  # nobody told its sessions yet
                folder.notify_local()

    def close(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self._fd >= 0:
            if self._loop is not None and not self._loop.is_closed():
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(self._fd)
            os.close(self._fd)
        self._fd = -1
        self._loop = None
        self._folders.clear()
        self._watches.clear()
        self._pending.clear()
