"""The text after DATA, collected into one buffer (RFC 5321 4.1.1.4 and 4.5.2).

aiosmtpd keeps every received line as its own ``bytearray`` until the final
dot: about 60 octets of object overhead per line, so a message of empty lines
grows to some thirty times its size in memory (a 32 MiB message of ``CRLF``
lines took 1.2 GB). :class:`MessageBuffer` appends each line to one growing
buffer instead, so memory stays near the message size that ``SIZE`` allows.
It undoes dot-stuffing and applies aiosmtpd's limits: a message over
the size limit or a line over the line limit is read to its end and then
refused, and neither is kept in memory.
"""

from __future__ import annotations

import enum

CRLF = b"\r\n"
END_OF_DATA = b".\r\n"


class Overrun(enum.Enum):
    """Why the message will be refused once its final dot has arrived."""

    TOO_LONG = "line too long"
    TOO_MUCH = "message too big"


class MessageBuffer:
    """Collects DATA lines; :meth:`add` says when the terminating dot has arrived."""

    def __init__(self, size_limit: int | None, line_limit: int) -> None:
        #: Most octets of the message (CRLFs included, stuffed dots not); None for no limit.
        self.size_limit = size_limit
        #: Longest line, CRLF included.
        self.line_limit = line_limit
        self.received = 0
        self.overrun: Overrun | None = None
        self._data = bytearray()
        #: Octets of the current line received so far, when it came in pieces.
        self._partial = 0

    def add(self, chunk: bytes) -> bool:
        """Take one line with its CRLF, or a piece of a line (no CRLF) too long for the
        stream buffer. True when ``chunk`` was the lone dot that ends the message."""
        at_line_start = self._partial == 0
        if at_line_start and chunk == END_OF_DATA:
            return True
        stuffed = at_line_start and chunk.startswith(b".")
        # RFC 1870 4: the size counts neither the final dot nor the doubled dots.
        self.received += len(chunk) - stuffed
        complete = chunk.endswith(CRLF)
        line_length = self._partial + len(chunk)
        self._partial = 0 if complete else line_length
        if self.overrun is None:
            if self.size_limit and self.received > self.size_limit:
                self._refuse(Overrun.TOO_MUCH)
            elif line_length > self.line_limit or not complete:
                # A piece without CRLF only arrives for a line longer than the stream buffer.
                self._refuse(Overrun.TOO_LONG)
            elif stuffed:
                self._data += memoryview(chunk)[1:]
            else:
                self._data += chunk
        return False

    def content(self) -> bytes:
        """The message as sent, dot-stuffing undone (only meaningful without an overrun)."""
        data = bytes(self._data)
        self._data = bytearray()
        return data

    def _refuse(self, reason: Overrun) -> None:
        self.overrun = reason
        self._data = bytearray()
