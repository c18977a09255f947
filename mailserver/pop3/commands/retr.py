"""RETR msg (RFC 1939 section 5): send the whole message; it becomes \\Seen for IMAP clients.

The ``\\Seen`` flags are written once, when the session ends (at QUIT, or
when the client just goes away), for every message retrieved, as Dovecot's
POP3 server does: a flag change renames the file and fsyncs the directory
and the mod-sequence journal, and a "RETR all" of 30 messages paid that 30
times where one batch does.

A client that retrieves messages in order (what every "download all" does)
gets the following small messages read with the current one, in one
worker-thread call (:data:`READ_AHEAD_COUNT` messages, at most
:data:`READ_AHEAD_BYTES` together): a thread round trip cost more than
reading a 3 KB file.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from mailserver.pop3.commands.login import maildrop_of
from mailserver.pop3.parser import Command
from mailserver.storage import SEEN, FlagMode, MessageInfo, StorageError
from mailserver.storage.stream import MessageStream

if TYPE_CHECKING:
    from mailserver.pop3.maildrop import Maildrop
    from mailserver.pop3.session import Pop3Session

log = logging.getLogger("mailserver.pop3")

#: Messages read in one go for a client retrieving in order, and their octets together.
READ_AHEAD_COUNT = 16
READ_AHEAD_BYTES = 256 * 1024


async def run(session: Pop3Session, command: Command) -> None:
    maildrop = maildrop_of(session)
    number = command.numbers[0]
    info = maildrop.get(number)
    data = await _read_ahead(maildrop, number, info)
    if data is not None:
        message = MessageStream.from_bytes(data)
    else:
        # Streamed from the file: a 60 MiB message costs one chunk of memory, not
        # 60 MiB; a small one is read whole in one thread call and sent in one write.
        message = await maildrop.folder.open_message(info.uid)
    async with message:
        await session.send_stream(f"+OK {message.size} octets", message.chunks())
    session.recorder.count("retrieved")
    maildrop.retrieved(info)
    maildrop.last_retrieved = number


async def _read_ahead(maildrop: Maildrop, number: int, info: MessageInfo) -> bytes | None:
    """The message's text if it was read ahead, or read now with the small ones after
    it; None: open it the ordinary way (not in order, large, or changed on disk)."""
    data = maildrop.take_ahead(info.uid)
    if data is None and number == maildrop.last_retrieved + 1:
        batch = maildrop.following(number, READ_AHEAD_COUNT, READ_AHEAD_BYTES)
        if len(batch) > 1:
            texts = await maildrop.folder.read_many(item.uid for item in batch)
            data = texts.pop(info.uid, None)
            maildrop.keep_ahead(texts)
    if data is None or len(data) != info.size:
        return None  # the snapshot's size is what LIST said: never send other octets
    return data


async def mark_retrieved_seen(session: Pop3Session, skip_deleted: bool = False) -> None:
    """Flag every message this session retrieved ``\\Seen``, in one store call
    (``skip_deleted``: not those UPDATE has just expunged).

    Never fails the session: the client has its copies, and a lost ``\\Seen``
    is not worth an error reply (nor losing the QUIT's ``+OK``).
    """
    maildrop = session.maildrop
    if maildrop is None:
        return
    uids = maildrop.take_unseen_retrieved(skip_deleted)
    if not uids:
        return
    guard = session.handle.transaction() if session.handle else contextlib.nullcontext()
    try:
        with guard:  # a server shutdown waits for it, as for UPDATE's expunge
            await maildrop.folder.store_flags(uids, [SEEN], FlagMode.ADD)
    except StorageError as exc:
        log.info("pop3 %s: cannot mark %d messages seen: %s", session.peer, len(uids), exc.message)
    except Exception:
        log.exception("pop3 %s: marking %d messages seen failed", session.peer, len(uids))
