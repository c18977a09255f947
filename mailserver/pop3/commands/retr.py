"""RETR msg (RFC 1939 section 5): send the whole message; it becomes \\Seen for IMAP clients.

The ``\\Seen`` flags are written once, when the session ends (at QUIT, or
when the client just goes away), for every message retrieved, as Dovecot's
POP3 server does: a flag change renames the file and fsyncs the directory
and the mod-sequence journal, and a "RETR all" of 30 messages paid that 30
times where one batch does.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from mailserver.pop3.commands.login import maildrop_of
from mailserver.pop3.parser import Command
from mailserver.storage import SEEN, FlagMode, StorageError

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session

log = logging.getLogger("mailserver.pop3")


async def run(session: Pop3Session, command: Command) -> None:
    maildrop = maildrop_of(session)
    info = maildrop.get(command.numbers[0])
    # Streamed from the file: a 60 MiB message costs one chunk of memory, not 60 MiB;
    # a small one is read whole in one thread call and sent in one write.
    async with await maildrop.folder.open_message(info.uid) as message:
        await session.send_stream(f"+OK {message.size} octets", message.chunks())
    session.recorder.count("retrieved")
    maildrop.retrieved(info)


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
