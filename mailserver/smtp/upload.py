"""One message on its way in over SMTP (DATA or a run of BDAT chunks), bounded in memory.

Ties together what every upload needs: its share of the memory budget, a
spool file the octets go to as they arrive, the size count against
``limits.max_message_size``, and a clean end: :meth:`Upload.close` (or
leaving the ``with`` block, however that happens: a dropped connection, a
timeout, RSET) removes the file and gives the memory back at once.

A message smaller than one write batch (:data:`BATCH`, already part of the
upload's memory reservation) never reaches the spool at all: it stays in
memory and :meth:`Upload.finish` hands it over as bytes. Delivery writes
and fsyncs each copy into the maildir anyway, so a spool file for it would
only cost a file creation on the event loop, a write, a read and an unlink
per message (most mail is a few KB: bench/README.md, "SMTP fast path").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from mailserver.net.budget import MemoryBudget, Reservation
from mailserver.storage.spool import BATCH, HeaderTooLarge, SpooledMessage, SpoolWriter, split_head

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
        #: The message so far while it is smaller than a batch (no spool file yet).
        self._memory = bytearray()
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
            if self._writer is None and len(self._memory) + len(piece) < BATCH:
                self._memory += piece
                continue
            try:
                if self._writer is None:
                    self._writer = SpoolWriter(self._spool, self._header_limit)
                    held, self._memory = self._memory, bytearray()
                    await self._writer.write(memoryview(held))
                await self._writer.write(piece)
            except OSError as exc:
                log.error("cannot write to the spool %s: %s", self._spool, exc.strerror)
                self.failed = exc
                self._drop_writer()

    async def finish(self) -> SpooledMessage | bytes:
        """The message: bytes when it stayed smaller than a batch, else the spool
        file (the caller discards it when done with it); raises ``OSError`` (the
        write failure) or ``HeaderTooLarge``."""
        if self.failed is not None:
            raise self.failed
        if self._writer is None:  # small (or empty: BDAT 0 LAST): never left memory
            data, self._memory = bytes(self._memory), bytearray()
            if split_head(data, len(data), self._header_limit) is None:
                raise HeaderTooLarge
            return data
        writer, self._writer = self._writer, None
        try:
            # Not fsync'd: delivery fsyncs each copy it makes before the 250.
            return await writer.finish(sync=False)
        finally:
            writer.abort()  # nothing once finished; removes the file if finish failed

    def close(self) -> None:
        """Abandon what is not finished and give the memory back (idempotent)."""
        self._drop_writer()
        self._memory = bytearray()
        self._reservation.release()

    def _drop_writer(self) -> None:
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
