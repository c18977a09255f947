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
from collections.abc import Callable

from mailserver.config import Config
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
