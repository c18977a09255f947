"""Read one protocol line without ever buffering more than a set limit.

A client that sends an endless line must not make the server grow: the
overlong line is discarded up to its end, the caller answers with its
protocol's error, and the session continues with the next line.
"""

from __future__ import annotations

import asyncio


#: Stream buffer limit to pass to ``asyncio.start_server(limit=...)``: the
#: largest line we accept plus slack, so ``readuntil`` fails fast beyond it.
def stream_limit(max_line_length: int) -> int:
    return max_line_length + 1024


#: How much of a discarded line is kept, so the reply can name its tag or verb.
KEPT_PREFIX = 128


class LineTooLong(Exception):
    """The line exceeded the limit; it has already been discarded from the stream.

    ``prefix`` holds its first octets: IMAP answers a tagged ``BAD`` when the
    tag is in there, so a client waiting for that tag is not left hanging.
    """

    def __init__(self, prefix: bytes = b"") -> None:
        super().__init__("line too long")
        self.prefix = prefix


async def read_line(reader: asyncio.StreamReader, max_length: int) -> bytes:
    """Return the next line without its CRLF (or bare LF).

    Raises ``EOFError`` when the peer closed the connection (a partial last
    line without a terminator is dropped, as no command was completed) and
    :class:`LineTooLong` when the line is longer than ``max_length`` octets.
    """
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        raise EOFError from None
    except asyncio.LimitOverrunError as exc:
        start = await reader.readexactly(exc.consumed)
        await _discard_rest_of_line(reader)
        raise LineTooLong(start[:KEPT_PREFIX]) from None
    line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
    if len(line) > max_length:
        raise LineTooLong(line[:KEPT_PREFIX])
    return line


async def _discard_rest_of_line(reader: asyncio.StreamReader) -> None:
    while True:
        try:
            await reader.readuntil(b"\n")
            return
        except asyncio.LimitOverrunError as exc:
            await reader.readexactly(exc.consumed)
        except asyncio.IncompleteReadError:
            raise EOFError from None


#: Backspace (what Windows telnet sends for the key) and DEL (what many terminals send).
_ERASERS = frozenset(b"\x08\x7f")


def apply_backspaces(line: bytes) -> bytes:
    """Apply BS (0x08) and DEL (0x7f) to a command line as a terminal would.

    Windows telnet and ``nc`` in a raw terminal send the key's byte instead
    of erasing locally, so a student who corrects ``nooq`` to ``noop`` sends
    ``nooq\\x08p``. Each eraser removes itself and the character before it
    (a whole UTF-8 sequence, never half of one); at the start of the line it
    removes only itself. Only for command lines: message text (SMTP DATA) and
    IMAP literals are data and pass untouched, so callers apply this to lines
    they parse as commands and nothing else.
    """
    if b"\x08" not in line and b"\x7f" not in line:
        return line
    kept = bytearray()
    for byte in line:
        if byte not in _ERASERS:
            kept.append(byte)
        elif kept:
            del kept[_last_character_start(kept) :]
    return bytes(kept)


def _last_character_start(data: bytearray) -> int:
    """Where the last UTF-8 character begins; a stray byte counts as one character."""
    start = len(data) - 1
    while start > 0 and len(data) - start < 4 and 0x80 <= data[start] <= 0xBF:
        start -= 1
    if data[start] >= 0xC0 and start < len(data) - 1:
        return start
    return len(data) - 1


def unread(reader: asyncio.StreamReader, data: bytes) -> None:
    """Put ``data`` back at the front of the stream, to be read again.

    A reader that takes whatever the socket delivered (SMTP DATA, read in
    chunks rather than lines) may take octets past the end it was looking
    for: the commands a PIPELINING client sent behind the final dot. They
    go back for the command loop. asyncio has no public way to do this; its
    ``_buffer`` has been a ``bytearray`` in every version since 3.4.
    """
    if data:
        buffer: bytearray = reader._buffer  # type: ignore[attr-defined]
        buffer[:0] = data


#: How long a session whose client has pipelined more commands steps aside.
PIPELINE_PAUSE = 0.001


async def take_turn(reader: asyncio.StreamReader) -> None:
    """Let every other connection have a turn before the next pipelined command.

    A client that pipelines thousands of commands finds each next one already
    buffered, so its session would keep the event loop to itself. ``sleep(0)``
    is not enough under uvloop: it keeps the ready queue full, and the wake-ups
    of finished worker-thread jobs (a password check, a maildir scan, an fsync)
    of the other sessions wait behind it for seconds (measured: 15 s for a POP3
    PASS beside ten flooders, 1.7 s on asyncio's own loop). A short timer sleep
    lets the loop poll for I/O and thread wake-ups first. A client that waits
    for each reply (every real mail client) has nothing buffered and pays nothing.
    """
    if reader._buffer:  # type: ignore[attr-defined]  # see unread()
        await asyncio.sleep(PIPELINE_PAUSE)
