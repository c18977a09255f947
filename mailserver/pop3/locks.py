"""One POP3 session per maildrop at a time (RFC 1939 section 8: exclusive-access lock).

The lock must hold across worker processes (and servers sharing a
data_dir), so it is an ``flock`` on ``<lock_dir>/<user>.lock``, kept by the
session for its whole life and released when it closes, or by the kernel
when its process dies (a crashed worker leaves no stale lock behind). An
in-process set answers a second session of the same process without a
system call. IMAP sessions and SMTP delivery use the store's own
concurrency and carry on while a POP3 client holds the maildrop.

The registry hangs off the store object so that every POP3 listener of one
server (plain and implicit TLS) shares it, without a module-wide global state
leaking between servers started in one test process.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import weakref
from pathlib import Path

from mailserver.storage import MailStore

log = logging.getLogger(__name__)


class MaildropLocks:
    """The users whose maildrop a POP3 session holds, here or in another process."""

    def __init__(self, lock_dir: Path | None = None) -> None:
        self._held: dict[str, int] = {}
        #: None: this process only (for tests of the protocol alone).
        self.lock_dir = lock_dir

    def try_acquire(self, user: str) -> bool:
        """True if the caller now holds the lock; False if another session has it."""
        if user in self._held:
            return False
        fd = -1
        if self.lock_dir is not None:
            try:
                fd = self._lock_file(user)
            except BlockingIOError:
                return False
        self._held[user] = fd
        return True

    def _lock_file(self, user: str) -> int:
        """Non-blocking flock (a local file system call, quick enough on the loop)."""
        assert self.lock_dir is not None
        self.lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # User names are checked by the store (no '/' or '..'); lower-case so
        # that two spellings of one account share one lock.
        fd = os.open(self.lock_dir / f"{user.lower()}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def release(self, user: str) -> None:
        fd = self._held.pop(user, None)
        if fd is not None and fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)  # closing releases the flock

    def is_locked(self, user: str) -> bool:
        return user in self._held


_REGISTRIES: weakref.WeakKeyDictionary[MailStore, MaildropLocks] = weakref.WeakKeyDictionary()


def locks_for(store: MailStore, lock_dir: Path | None = None) -> MaildropLocks:
    """The lock registry shared by every POP3 session on ``store``; with
    ``lock_dir`` the locks also hold against other processes."""
    registry = _REGISTRIES.get(store)
    if registry is None:
        registry = _REGISTRIES[store] = MaildropLocks(lock_dir)
    return registry
