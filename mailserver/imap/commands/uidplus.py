"""UID EXPUNGE (RFC 4315 2.1): expunge only the ``\\Deleted`` messages the client
names, so it never removes what another client marked meanwhile."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.imap.commands.selected import deleted_uids, view_of, writable
from mailserver.imap.errors import Response
from mailserver.imap.parser.extensions import UidExpunge

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession


async def uid_expunge(session: ImapSession, command: UidExpunge) -> Response:
    view = view_of(session)
    writable(view)
    wanted = set(view.uids_in(command.sequence.resolve(view.max_uid())))
    targets = [uid for uid in await deleted_uids(view) if uid in wanted]
    if targets:
        await view.folder.expunge(targets)
    # The refresh after the command sends the EXPUNGE responses.
    return Response("OK", "UID EXPUNGE completed")
