"""Byte-stuffing for multi-line responses (RFC 1939 section 3) and the TOP cut.

Messages can be tens of megabytes, so the stuffed form is produced in
bounded chunks that the session writes one at a time, draining in between,
instead of building a second copy of the whole message.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterator

CHUNK_SIZE = 64 * 1024
TERMINATOR = b".\r\n"


def dot_stuffed_chunks(data: bytes | memoryview, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield ``data`` with a ``.`` added before every line starting with ``.``, then ``.CRLF``.

    ``data`` has CRLF line ends (what ``Folder.read`` returns); if it does not
    end with a line break one is added so the terminator stands on its own line.
    """
    at_line_start = True
    length = len(data)
    for start in range(0, length, chunk_size):
        chunk = bytes(data[start : start + chunk_size])
        stuffed = chunk.replace(b"\n.", b"\n..")
        if at_line_start and chunk.startswith(b"."):
            stuffed = b"." + stuffed
        at_line_start = chunk.endswith(b"\n")
        yield stuffed
    if not at_line_start:
        yield b"\r\n"
    yield TERMINATOR


def top_part(data: bytes, body_lines: int) -> memoryview:
    """The header, the blank line and the first ``body_lines`` lines of the body (RFC 1939 TOP)."""
    view = memoryview(data)
    if data.startswith(b"\r\n"):
        body_start = 2
    else:
        end_of_header = data.find(b"\r\n\r\n")
        if end_of_header < 0:
            return view
        body_start = end_of_header + 4
    position = body_start
    for _ in range(body_lines):
        newline = data.find(b"\n", position)
        if newline < 0:
            return view
        position = newline + 1
    return view[:position]


def stuff_line(line: str) -> str:
    """Stuff one line of a generated multi-line response (LIST, UIDL, CAPA ...)."""
    return "." + line if line.startswith(".") else line


class DotStuffer:
    """:func:`dot_stuffed_chunks` for a message that arrives in chunks (a file being read)."""

    def __init__(self) -> None:
        self._at_line_start = True

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        stuffed = chunk.replace(b"\n.", b"\n..")
        if self._at_line_start and chunk.startswith(b"."):
            stuffed = b"." + stuffed
        self._at_line_start = chunk.endswith(b"\n")
        return stuffed

    def end(self) -> bytes:
        """The terminating line (after a line break if the message lacked a final one)."""
        return TERMINATOR if self._at_line_start else b"\r\n" + TERMINATOR


async def top_cut(chunks: AsyncIterable[bytes], body_lines: int) -> AsyncIterator[bytes]:
    """:func:`top_part` over chunks: the header, the blank line, ``body_lines`` lines,
    reading no further into the message than that."""
    tail = b"\r\n"  # a message that starts with CRLF has an empty header
    in_header = True
    remaining = body_lines
    async for chunk in chunks:
        position = 0
        if in_header:
            window = tail + chunk
            found = window.find(b"\r\n\r\n")
            if found < 0:
                tail = window[-3:]
                yield chunk
                continue
            in_header = False
            position = found + 4 - len(tail)
        while remaining:
            newline = chunk.find(b"\n", position)
            if newline < 0:
                break
            position = newline + 1
            remaining -= 1
        if not remaining:
            yield chunk[:position]
            return
        yield chunk
