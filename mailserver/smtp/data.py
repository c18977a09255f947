"""The text after DATA, undone from its transfer form as it streams in (RFC 5321 4.1.1.4, 4.5.2).

:class:`DotDecoder` takes whatever the socket delivered, in chunks of any
size, and gives back the message octets with dot-stuffing removed, until the
line holding only ``.`` ends it. It keeps no more than two octets between
calls, so neither a long line nor a long message costs memory here: the
octets go straight to a spool file (``storage.spool``). Only the message
size limits a message; a 100,000-octet line is taken and kept unchanged
(RFC 5322's 998 is a rule for writers, and Postfix takes such lines too).

Only ``CRLF . CRLF`` ends DATA. A bare LF before or after the dot does not
(RFC 5321 4.1.1.4; accepting ``LF . LF`` is the "SMTP smuggling" hole), so
:attr:`DotDecoder.bare_lf` and :attr:`DotDecoder.lf_dot_lf` record what a
``nc`` without ``-C`` sends: the session uses them to tell a student why the
message does not end, instead of hanging silently.
"""

from __future__ import annotations

import enum

CRLF = b"\r\n"
END_OF_DATA = b".\r\n"
_LINE_DOT = b"\r\n."


class Overrun(enum.Enum):
    """Why the message will be refused once its final dot has arrived."""

    TOO_MUCH = "message too big"


class DotDecoder:
    """Undoes dot-stuffing over a stream of chunks; :meth:`feed` says when DATA ended."""

    def __init__(self, size_limit: int | None) -> None:
        #: Most octets of the message (CRLFs included, stuffed dots not); None for no limit.
        self.size_limit = size_limit
        #: Octets of the message so far (RFC 1870 4: neither the final dot nor stuffing).
        self.received = 0
        self.overrun: Overrun | None = None
        #: What came after the terminating dot (pipelined commands): not part of the message.
        self.rest = b""
        #: A line ended in a bare LF somewhere in the message.
        self.bare_lf = False
        #: The stream so far ends with a line holding only ``.`` and a bare LF.
        self.lf_dot_lf = False
        self._at_line_start = True
        self._carry = b""
        self._tail = b"\n"

    def feed(self, chunk: bytes) -> tuple[list[memoryview], bool]:
        """Message octets found in ``chunk`` (views into it; empty past the size limit),
        and True once the terminating dot has arrived (:attr:`rest` then holds what followed)."""
        if not self.bare_lf and chunk:
            # A CRLF split between two reads is no bare LF.
            split_crlf = self._tail.endswith(b"\r") and chunk.startswith(b"\n")
            self.bare_lf = chunk.count(b"\n") - split_crlf > chunk.count(CRLF)
        self._tail = (self._tail + chunk[-3:])[-3:]
        self.lf_dot_lf = self._tail == b"\n.\n"
        data = self._carry + chunk if self._carry else chunk
        self._carry = b""
        view = memoryview(data)
        out: list[memoryview] = []
        end = len(data)
        pos = 0
        ended = False
        while True:
            if self._at_line_start:
                if end - pos < len(END_OF_DATA) and END_OF_DATA.startswith(data[pos:]):
                    self._carry = data[pos:]  # maybe the end marker: wait for more
                    break
                if data.startswith(END_OF_DATA, pos):
                    self.rest = data[pos + len(END_OF_DATA) :]
                    ended = True
                    break
                if data.startswith(b".", pos):
                    pos += 1  # a stuffed dot
                self._at_line_start = False
            found = data.find(_LINE_DOT, pos)
            if found < 0:
                if data.endswith(CRLF) and end - 2 >= pos:
                    out.append(view[pos:end])
                    self._at_line_start = True
                elif data.endswith(b"\r") and end - 1 >= pos:
                    out.append(view[pos : end - 1])
                    self._carry = b"\r"  # maybe the start of CRLF "."
                else:
                    out.append(view[pos:end])
                break
            out.append(view[pos : found + 2])
            pos = found + 2
            self._at_line_start = True
        return self._account(out), ended

    def _account(self, pieces: list[memoryview]) -> list[memoryview]:
        pieces = [piece for piece in pieces if len(piece)]
        self.received += sum(len(piece) for piece in pieces)
        if self.overrun is None and self.size_limit and self.received > self.size_limit:
            self.overrun = Overrun.TOO_MUCH
        return [] if self.overrun is not None else pieces
