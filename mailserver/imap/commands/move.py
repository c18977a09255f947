"""MOVE and UID MOVE (RFC 6851): copy, then expunge the originals, in one command.

The client learns the new UIDs from ``* OK [COPYUID ...]`` sent before the
EXPUNGE responses (RFC 6851 4.3); the session's refresh after the command
sends those EXPUNGEs, and every other session on the folder sees the
messages vanish at its next refresh (the lab's "move on one PC, gone on the
other").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.imap.commands.selected import view_of, writable
from mailserver.imap.errors import Response, storage_error_response
from mailserver.imap.fetch import VANISHED
from mailserver.imap.parser.commands import Copy
from mailserver.imap.response_codes import copyuid_code
from mailserver.imap.sequences import resolve_uids
from mailserver.storage import ErrorKind, Folder, StorageError

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession


async def move(session: ImapSession, command: Copy) -> Response:
    view = view_of(session)
    writable(view)
    assert session.mailbox is not None
    uids = resolve_uids(view, command.sequence, command.uid)
    if any(view.info(uid) is None for uid in uids):
        return VANISHED
    try:
        target = await session.mailbox.folder(command.mailbox)
    except StorageError as exc:
        if exc.kind is ErrorKind.NOT_FOUND:
            return storage_error_response(exc, target_missing=True)
        raise
    if not uids:
        return Response("OK", f"{command.name} completed")
    if session.handle is not None:
        with session.handle.transaction():
            mapping = await _move(view.folder, uids, target)
    else:
        mapping = await _move(view.folder, uids, target)
    code = await copyuid_code(target, mapping)
    if code is not None:
        await session.send(f"* OK [{code}] Moved\r\n".encode())
    return Response("OK", f"{command.name} completed")


async def _move(source: Folder, uids: list[int], target: Folder) -> dict[int, int]:
    # Copy first: if that fails (quota, disk) the originals are untouched.
    mapping = await source.copy_to(uids, target)
    await source.expunge(list(mapping))
    return mapping
