"""Reading a stored message in chunks, with CRLF line ends, never all of it at once.

POP3 RETR and IMAP FETCH of ``BODY[]`` used to read the whole file
(``Folder.read``) and send it: twenty clients downloading a 60 MiB message
held 1.2 GB. A :class:`MessageStream` reads the file :data:`CHUNK` octets at
a time in a worker thread and converts line ends on the way, so a download
holds one chunk. Its :attr:`~MessageStream.size` is exact (counted over the
file before the first octet is sent), because IMAP announces a literal's
length up front and a wrong one would break the session.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import BinaryIO

#: Octets read from a message file at a time.
CHUNK = 256 * 1024


class ToWire:
    """LF -> CRLF over a stream of chunks (``flags.to_wire`` in pieces).

    A CRLF already in the file stays one CRLF; CRs at a chunk's end wait for
    the next chunk, so the result is the same whatever the chunking.
    """

    def __init__(self) -> None:
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        if self._held:
            chunk = self._held + chunk
        stripped = chunk.rstrip(b"\r")
        self._held = chunk[len(stripped) :]
        if b"\r\n" in stripped:
            stripped = stripped.replace(b"\r\n", b"\n")
        return stripped.replace(b"\n", b"\r\n")

    def end(self) -> bytes:
        held, self._held = self._held, b""
        return held


def wire_size(handle: BinaryIO) -> int:
    """Octets the file gives with CRLF line ends (blocking; leaves the position at 0)."""
    convert = ToWire()
    size = 0
    handle.seek(0)
    while chunk := handle.read(CHUNK):
        size += len(convert.feed(chunk))
    size += len(convert.end())
    handle.seek(0)
    return size


class MessageStream:
    """One message, opened: :attr:`size` octets that :meth:`chunks` yields. Close it."""

    def __init__(self, handle: BinaryIO | None = None, data: bytes | None = None) -> None:
        """From an open file (blocking reads run in a thread) or, for stores that
        hold messages otherwise, from bytes already in memory."""
        self._handle = handle
        self._data = data
        if data is not None:
            self.size = len(data)
        else:
            assert handle is not None
            self.size = wire_size(handle)

    @classmethod
    def from_bytes(cls, data: bytes) -> MessageStream:
        return cls(data=data)

    async def __aenter__(self) -> MessageStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None

    async def chunks(self, start: int = 0, count: int | None = None) -> AsyncIterator[bytes]:
        """The octets from ``start``, at most ``count`` of them (IMAP ``<start.count>``)."""
        end = self.size if count is None else min(self.size, start + count)
        position = 0  # in the CRLF form
        async for piece in self._converted():
            piece_end = position + len(piece)
            if piece_end > start and position < end:
                yield piece[max(start - position, 0) : end - position]
            position = piece_end
            if position >= end:
                return

    async def _converted(self) -> AsyncIterator[bytes]:
        if self._data is not None:
            for offset in range(0, len(self._data), CHUNK):
                yield self._data[offset : offset + CHUNK]
            return
        handle = self._handle
        assert handle is not None, "read after close()"
        convert = ToWire()
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            yield convert.feed(chunk)
        if tail := convert.end():
            yield tail
