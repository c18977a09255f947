"""MOVE and UID MOVE (RFC 6851): copy, then expunge the originals, in one command.

The client learns the new UIDs from ``* OK [COPYUID ...]`` sent before the
EXPUNGE responses (RFC 6851 4.3); the session's refresh after the command
sends those EXPUNGEs, and every other session on the folder sees the
messages vanish at its next refresh (the lab's "move on one PC, gone on the
other").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.imap.commands.selected import (
    copy_source_and_target,
    in_transaction,
    view_of,
    writable,
)
from mailserver.imap.condstore import expunged_code
from mailserver.imap.errors import Response
from mailserver.imap.parser.commands import Copy
from mailserver.imap.response_codes import copyuid_code

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession


async def move(session: ImapSession, command: Copy) -> Response:
    writable(view_of(session))
    found = await copy_source_and_target(session, command)
    if isinstance(found, Response):
        return found
    uids, target = found
    if not uids:
        return Response("OK", f"{command.name} completed")
    source = view_of(session).folder
    mapping = await in_transaction(session, lambda: source.move_to(uids, target))
    code = await copyuid_code(target, mapping)
    if code is not None:
        await session.send(f"* OK [{code}] Moved\r\n".encode())
    # RFC 6851 3.3: the originals are expunged, so the QRESYNC client learns the new
    # HIGHESTMODSEQ as after UID EXPUNGE (RFC 7162 3.2.9).
    expunged = await expunged_code(session, source, bool(mapping))
    return Response("OK", f"{command.name} completed", expunged)
