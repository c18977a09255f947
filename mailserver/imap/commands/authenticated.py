"""APPEND (RFC 3501 6.3.11): the only authenticated-state command that carries a message.

With MULTIAPPEND (RFC 3502) one APPEND carries several messages and stores
all or none of them: if any fails (a bad CATENATE URL, the quota, a full
disk), those already stored are removed again before the ``NO``, and the
single ``OK`` names every new UID (``APPENDUID`` with a UID set, RFC 4315 3).
A large message literal arrives as a spool file (``imap/literals.py``) and is
copied into the maildir in chunks, never whole in memory; a CATENATE message
(bounded by ``limits.max_message_size``) is built in memory, one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import TYPE_CHECKING

from mailserver.imap.catenate import build_message
from mailserver.imap.errors import Response, no, storage_error_response
from mailserver.imap.parser.commands import RECENT_FLAG, Append, AppendMessage
from mailserver.imap.response_codes import uid_set
from mailserver.storage import ErrorKind, Folder, StorageError
from mailserver.storage.spool import SpooledMessage

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

#: A CR not before LF, or an LF not after CR.
_LONE_LINE_END = re.compile(rb"\r(?!\n)|(?<!\r)\n")
_SCAN_CHUNK = 1 << 20


async def append(session: ImapSession, command: Append) -> Response:
    assert session.mailbox is not None
    if any(_empty(m) for m in command.messages):
        raise no("Empty message")
    for message in command.messages:
        if message.binary and await _has_lone_line_end(message):
            # RFC 3516 4.3: content the mailbox cannot keep as sent is refused, not
            # altered. The maildir stores lines (LF on disk, CRLF on the wire); NUL is kept.
            text = "Binary content with a lone CR or LF cannot be stored as sent"
            raise no(text, "UNKNOWN-CTE")
    try:
        folder = await session.mailbox.folder(command.mailbox)
    except StorageError as exc:
        if exc.kind is ErrorKind.NOT_FOUND:
            return storage_error_response(exc, target_missing=True)
        raise
    with session.handle.transaction() if session.handle else contextlib.nullcontext():
        uids = await _store_all(session, folder, command.messages)
    # RFC 4315 3: the client learns the new UIDs (saved drafts are not duplicated).
    uidvalidity = (await folder.snapshot()).uidvalidity
    return Response("OK", "Append completed", f"APPENDUID {uidvalidity} {uid_set(uids)}")


def _empty(message: AppendMessage) -> bool:
    if message.catenate:
        return False
    spooled = message.message_file
    return not message.message and (spooled is None or spooled.size == 0)


async def _has_lone_line_end(message: AppendMessage) -> bool:
    if message.message_file is None:
        return _LONE_LINE_END.search(message.message) is not None
    return await asyncio.to_thread(_file_has_lone_line_end, message.message_file)


def _file_has_lone_line_end(spooled: SpooledMessage) -> bool:
    """The same check over the file, a chunk at a time: each chunk is searched with
    the last octet of the one before it, and a CR that ends a chunk is judged
    with the octet that follows it."""
    carry = b""
    with spooled.open() as handle:
        while chunk := handle.read(_SCAN_CHUNK):
            window = carry + chunk
            for match in _LONE_LINE_END.finditer(window):
                at = match.start()
                if at < len(carry) and carry != b"\r":
                    continue  # the carried octet was judged with its own chunk
                if at == len(window) - 1 and window.endswith(b"\r"):
                    continue  # a CR at the end: the next chunk decides
                return True
            carry = window[-1:]
    return carry == b"\r"


async def _store_all(
    session: ImapSession, folder: Folder, messages: tuple[AppendMessage, ...]
) -> list[int]:
    uids: list[int] = []
    try:
        for message in messages:
            flags = [flag for flag in message.flags if flag != RECENT_FLAG]
            if message.message_file is not None:
                # Copied from the spool file in chunks: never the whole message in memory.
                uid = await folder.append_file(
                    message.message_file.path, flags=flags, internal_date=message.internal_date
                )
                uids.append(uid)
                continue
            data = message.message
            if message.catenate:
                data = await build_message(session, message.catenate)
                if not data:
                    raise no("Empty message")
            uids.append(await folder.append(data, flags, message.internal_date))
    except BaseException:
        if uids:
            # RFC 3502 3: all or nothing. Others may have glimpsed them; they see an expunge.
            await folder.expunge(uids)
        raise
    return uids
