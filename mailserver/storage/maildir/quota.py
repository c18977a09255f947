"""Per-user storage limits (RFC 9208 STORAGE), checked before a message is written.

The limit comes from a callable (the configuration), asked on every check so
a changed limit applies at once. Usage is what the user's folders hold, in
CRLF octets, as clients count them; copies count in full even though maildir
hard-links them, as Dovecot counts them.

Writes of one user through this process take turns from the check to the
end of the write (only when a limit is set), so two deliveries cannot both
squeeze into the last free kilobyte. Another process writing at the same
moment can still overshoot the limit by a message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from mailserver.storage.errors import ErrorKind, StorageError

#: user -> storage limit in octets, None for no limit.
QuotaFunc = Callable[[str], "int | None"]


class QuotaGuard:
    """One user's limit, and the turn their writes take while it is set."""

    def __init__(
        self, user: str, limit: QuotaFunc, usage: Callable[[], Awaitable[tuple[int, int]]]
    ) -> None:
        self.user = user
        self._limit = limit
        self._usage = usage
        self._turn = asyncio.Lock()

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
            used, _ = await self._usage()
            if used + octets > limit:
                raise StorageError(ErrorKind.OVER_QUOTA, "Quota exceeded")
            yield
