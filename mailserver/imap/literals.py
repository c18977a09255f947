"""Large literals to a file as they arrive, instead of into the command buffer.

An APPEND of a 60 MiB message used to be read into memory whole (twenty
unfinished ones held 1.2 GB). :func:`literal_to_file` takes its share of the
memory budget, reads the literal in chunks into a spool file
(``storage.spool``) and hands back the :class:`SpooledMessage`; the command
then carries the file's path (``Append.message_file``) and the store copies
it into the maildir (``Folder.append_file``). MULTIAPPEND and CATENATE can
use the same reader for each of their message literals.

A literal must arrive at ``limits.min_data_rate`` at least: its deadline is
one idle timeout plus the time that rate needs for its size, so a client
trickling a byte a second cannot hold the connection and its budget.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Callable

from mailserver.config import Config
from mailserver.imap.parser.append import Append
from mailserver.net.budget import MemoryBudget, Reservation
from mailserver.storage.spool import BATCH, SpooledMessage, SpoolWriter, spool_dir

#: Octets read from the socket at a time.
READ_CHUNK = 64 * 1024


class BudgetExhausted(Exception):
    """No memory budget left for another upload: refuse it for now (``NO [UNAVAILABLE]``)."""


def literal_deadline(config: Config, size: int) -> float:
    """Seconds a literal of ``size`` octets may take to arrive."""
    rate = max(config.limits.min_data_rate, 1)
    return config.timeouts.imap + size / rate


def reserve_literal(budget: MemoryBudget, config: Config) -> Reservation:
    """One literal upload's share of the memory budget, taken before the client is
    told to send (``+``); raises :class:`BudgetExhausted`."""
    reservation = budget.reserve(2 * READ_CHUNK + BATCH + config.limits.max_header_size)
    if reservation is None:
        raise BudgetExhausted
    return reservation


async def literal_to_file(
    reader: asyncio.StreamReader,
    size: int,
    config: Config,
    reservation: Reservation,
    on_chunk: Callable[[bytes], None] | None = None,
) -> SpooledMessage:
    """Read exactly ``size`` octets into a spool file; gives ``reservation`` back at the end.

    ``on_chunk`` sees each piece as it arrives (the session's transcript
    recorder, which shows a literal shortened), so streaming to a file does
    not hide the message from the instructor console.

    Raises ``EOFError`` if the client leaves, ``TimeoutError`` past the
    deadline, and ``HeaderTooLarge`` once the whole literal is read (the
    stream is then still in step). Nothing is left on disk unless it returns.
    """
    with reservation:
        writer = SpoolWriter(spool_dir(config.data_dir), config.limits.max_header_size)
        try:
            async with asyncio.timeout(literal_deadline(config, size)):
                remaining = size
                while remaining:
                    chunk = await reader.read(min(remaining, READ_CHUNK))
                    if not chunk:
                        raise EOFError
                    remaining -= len(chunk)
                    if on_chunk is not None:
                        on_chunk(chunk)
                    await writer.write(chunk)
            # Not fsync'd: the store's copy is, before the OK.
            return await writer.finish(sync=False)
        finally:
            writer.abort()


def discard_all(files: list[SpooledMessage]) -> None:
    for spooled in files:
        spooled.discard()
    files.clear()


#: Message literals of one APPEND spooled to files at most (MULTIAPPEND, CATENATE).
MAX_SPOOLED = 100


class SpoolMarker:
    """What stands in the command buffer for a literal that went to a spool file.

    A MULTIAPPEND or CATENATE command may carry several large literals; each is
    replaced by a small literal holding this session's random marker and the
    file's index, and :meth:`attach` puts the files back where the markers are
    in the parsed command. The marker starts with NUL and holds 16 random
    octets, so no literal a client sends can be taken for one.
    """

    def __init__(self) -> None:
        self.prefix = b"\x00spooled:" + secrets.token_hex(16).encode() + b":"

    def literal(self, index: int) -> bytes:
        return self.prefix + b"%d" % index

    def index(self, data: bytes) -> int | None:
        if not data.startswith(self.prefix):
            return None
        digits = data[len(self.prefix) :]
        return int(digits) if digits.isdigit() else None

    def attach(self, command: Append, files: list[SpooledMessage]) -> Append:
        """``command`` with each marker replaced by its spooled file."""

        def file_of(data: bytes | None) -> SpooledMessage | None:
            index = self.index(data or b"")
            return files[index] if index is not None and index < len(files) else None

        messages = []
        for message in command.messages:
            spooled = file_of(message.message)
            if spooled is not None:
                message = dataclasses.replace(message, message=b"", message_file=spooled)
            parts = tuple(
                dataclasses.replace(part, text=b"", file=spooled)
                if (spooled := file_of(part.text)) is not None
                else part
                for part in message.catenate
            )
            messages.append(dataclasses.replace(message, catenate=parts))
        return dataclasses.replace(command, messages=tuple(messages))
