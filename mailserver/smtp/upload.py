"""One message on its way in over SMTP (DATA or a run of BDAT chunks), bounded in memory.

Ties together what every upload needs: its share of the memory budget, a
spool file the octets go to as they arrive, the size count against
``limits.max_message_size``, and a clean end: :meth:`Upload.close` (or
leaving the ``with`` block, however that happens: a dropped connection, a
timeout, RSET) removes the file and gives the memory back at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from mailserver.net.budget import MemoryBudget, Reservation
from mailserver.storage.spool import BATCH, SpooledMessage, SpoolWriter

log = logging.getLogger("mailserver.smtp")

#: Octets read from the socket at a time during DATA and BDAT.
READ_CHUNK = 64 * 1024


def upload_footprint(header_limit: int) -> int:
    """What one upload may hold in memory: a socket read (and the stream's own
    buffer), a write batch and the header section."""
    return 2 * READ_CHUNK + BATCH + header_limit


class Upload:
    """Octets of one message: counted, written to the spool, or dropped after a failure."""

    def __init__(self, spool: Path, header_limit: int, reservation: Reservation) -> None:
        self._reservation = reservation
        self._writer: SpoolWriter | None = None
        self._spool = spool
        self._header_limit = header_limit
        #: Octets of the message so far (whether kept or not).
        self.received = 0
        #: Why the spool file could not be written (a full disk); the message is
        #: still read to its end, then refused with a temporary error.
        self.failed: OSError | None = None

    @classmethod
    def start(cls, budget: MemoryBudget, spool: Path, header_limit: int) -> Upload | None:
        """A new upload, or None when the memory budget is spent."""
        reservation = budget.reserve(upload_footprint(header_limit))
        return None if reservation is None else cls(spool, header_limit, reservation)

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def write(self, pieces: Iterable[bytes | memoryview]) -> None:
        for piece in pieces:
            self.received += len(piece)
            if self.failed is not None:
                continue
            try:
                if self._writer is None:
                    self._writer = SpoolWriter(self._spool, self._header_limit)
                await self._writer.write(piece)
            except OSError as exc:
                log.error("cannot write to the spool %s: %s", self._spool, exc.strerror)
                self.failed = exc
                self._drop_writer()

    async def finish(self) -> SpooledMessage:
        """The durable spool file; raises ``OSError`` (the write failure) or
        ``HeaderTooLarge``. The caller discards the file when done with it."""
        if self.failed is not None:
            raise self.failed
        if self._writer is None:  # an empty message (BDAT 0 LAST)
            self._writer = SpoolWriter(self._spool, self._header_limit)
        writer, self._writer = self._writer, None
        try:
            # Not fsync'd: delivery fsyncs each copy it makes before the 250.
            return await writer.finish(sync=False)
        finally:
            writer.abort()  # nothing once finished; removes the file if finish failed

    def close(self) -> None:
        """Abandon what is not finished and give the memory back (idempotent)."""
        self._drop_writer()
        self._reservation.release()

    def _drop_writer(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
