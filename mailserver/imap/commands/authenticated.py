"""APPEND (RFC 3501 6.3.11): the only authenticated-state command that carries a message."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from mailserver.imap.errors import Response, no, storage_error_response
from mailserver.imap.parser.commands import RECENT_FLAG, Append
from mailserver.imap.response_codes import appenduid_code
from mailserver.storage import ErrorKind, StorageError

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession


async def append(session: ImapSession, command: Append) -> Response:
    assert session.mailbox is not None
    spooled = command.message_file
    if not command.message and (spooled is None or spooled.size == 0):
        raise no("Empty message")
    try:
        folder = await session.mailbox.folder(command.mailbox)
    except StorageError as exc:
        if exc.kind is ErrorKind.NOT_FOUND:
            return storage_error_response(exc, target_missing=True)
        raise
    flags = [flag for flag in command.flags if flag != RECENT_FLAG]
    with session.handle.transaction() if session.handle else contextlib.nullcontext():
        if spooled is not None:
            # Copied from the spool file in chunks: never the whole message in memory.
            uid = await folder.append_file(
                spooled.path, flags=flags, internal_date=command.internal_date
            )
        else:
            uid = await folder.append(command.message, flags, command.internal_date)
    # RFC 4315 3: the client learns the new UID (saved drafts are not duplicated).
    return Response("OK", "Append completed", await appenduid_code(folder, uid))
