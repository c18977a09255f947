"""RETR msg (RFC 1939 section 5): send the whole message, then mark it \\Seen for IMAP clients."""

from __future__ import annotations

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
    # Streamed from the file: a 60 MiB message costs one chunk of memory, not 60 MiB.
    async with await maildrop.folder.open_message(info.uid) as message:
        await session.send_stream(f"+OK {message.size} octets", message.chunks())
    session.recorder.count("retrieved")
    if SEEN in info.flags:
        return
    try:
        await maildrop.folder.store_flags([info.uid], [SEEN], FlagMode.ADD)
    except StorageError as exc:
        # The client has its copy; a lost \Seen flag is not worth failing the session over.
        log.info("pop3 %s: cannot mark uid %d seen: %s", session.peer, info.uid, exc.message)
