"""APPEND (RFC 3501 6.3.11): the only authenticated-state command that carries a message.

With MULTIAPPEND (RFC 3502) one APPEND carries several messages and stores
all or none of them: if any fails (a bad CATENATE URL, the quota, a full
disk), those already stored are removed again before the ``NO``, and the
single ``OK`` names every new UID (``APPENDUID`` with a UID set, RFC 4315 3).
Each message is built (CATENATE) and stored before the next is built, so
only one is held in memory besides the command itself.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mailserver.imap.catenate import build_message
from mailserver.imap.errors import Response, no, storage_error_response
from mailserver.imap.parser.commands import RECENT_FLAG, Append, AppendMessage
from mailserver.imap.response_codes import uid_set
from mailserver.storage import ErrorKind, Folder, StorageError

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession


#: A CR not before LF, or an LF not after CR.
_LONE_LINE_END = re.compile(rb"\r(?!\n)|(?<!\r)\n")


async def append(session: ImapSession, command: Append) -> Response:
    assert session.mailbox is not None
    if any(not m.message and not m.catenate for m in command.messages):
        raise no("Empty message")
    if any(m.binary and _LONE_LINE_END.search(m.message) for m in command.messages):
        # RFC 3516 4.3: content the mailbox cannot keep as sent is refused, not altered.
        # The maildir stores lines (LF on disk, CRLF on the wire); NUL is kept.
        raise no("Binary content with a lone CR or LF cannot be stored as sent", "UNKNOWN-CTE")
    try:
        folder = await session.mailbox.folder(command.mailbox)
    except StorageError as exc:
        if exc.kind is ErrorKind.NOT_FOUND:
            return storage_error_response(exc, target_missing=True)
        raise
    if session.handle is not None:
        with session.handle.transaction():
            uids = await _store_all(session, folder, command.messages)
    else:
        uids = await _store_all(session, folder, command.messages)
    # RFC 4315 3: the client learns the new UIDs (saved drafts are not duplicated).
    uidvalidity = (await folder.snapshot()).uidvalidity
    return Response("OK", "Append completed", f"APPENDUID {uidvalidity} {uid_set(uids)}")


async def _store_all(
    session: ImapSession, folder: Folder, messages: tuple[AppendMessage, ...]
) -> list[int]:
    uids: list[int] = []
    try:
        for message in messages:
            data = message.message
            if message.catenate:
                data = await build_message(session, message.catenate)
                if not data:
                    raise no("Empty message")
            flags = [flag for flag in message.flags if flag != RECENT_FLAG]
            uids.append(await folder.append(data, flags, message.internal_date))
    except BaseException:
        if uids:
            # RFC 3502 3: all or nothing. Others may have glimpsed them; they see an expunge.
            await folder.expunge(uids)
        raise
    return uids
