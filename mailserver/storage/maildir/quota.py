"""Per-user storage limits (RFC 9208 STORAGE), checked before a message is written.

The limit comes from a callable (the configuration), asked on every check so
a changed limit applies at once. Usage is what the user's folders hold, in
CRLF octets, as clients count them; copies count in full even though maildir
hard-links them, as Dovecot counts them.

Writes of one user take turns from the check to the end of the write (only
when a limit is set), so two deliveries cannot both squeeze into the last
free kilobyte: within a process on an ``asyncio.Lock``, across worker
processes on an ``flock`` of ``.mailserver-quota.flock`` in the user's
maildir (taken in a thread, held until the write is done).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from mailserver.storage.errors import ErrorKind, StorageError
from mailserver.storage.maildir import io

#: The file whose flock orders one user's writes across processes.
QUOTA_LOCK = ".mailserver-quota.flock"

#: user -> storage limit in octets, None for no limit.
QuotaFunc = Callable[[str], "int | None"]


class QuotaGuard:
    """One user's limit, and the turn their writes take while it is set."""

    def __init__(
        self,
        user: str,
        limit: QuotaFunc,
        usage: Callable[[], Awaitable[tuple[int, int]]],
        lock_path: Path | None = None,
    ) -> None:
        self.user = user
        self._limit = limit
        self._usage = usage
        self._turn = asyncio.Lock()
        #: The cross-process turn (None: this process only).
        self._lock_path = lock_path

    def limit(self) -> int | None:
        return self._limit(self.user)

    @contextlib.asynccontextmanager
    async def reserve(self, octets: int) -> AsyncIterator[None]:
        """Refuse with OVER_QUOTA unless ``octets`` more fit; reaching the limit exactly is fine."""
        limit = self.limit()
        if limit is None:
            yield
            return
        async with self._turn:
            fd = None
            if self._lock_path is not None:
                fd = await asyncio.to_thread(io.acquire_flock, self._lock_path)
            try:
                used, _ = await self._usage()
                if used + octets > limit:
                    raise StorageError(ErrorKind.OVER_QUOTA, "Quota exceeded")
                yield
            finally:
                if fd is not None:
                    os.close(fd)
