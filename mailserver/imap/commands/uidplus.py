"""UID EXPUNGE (RFC 4315 2.1): expunge only the ``\\Deleted`` messages the client
names, so it never removes what another client marked meanwhile."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mailserver.imap.commands.selected import deleted_uids, view_of, writable
from mailserver.imap.condstore import expunged_code
from mailserver.imap.errors import Response
from mailserver.imap.parser.extensions import UidExpunge
from mailserver.imap.sequences import resolve_uids

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

log = logging.getLogger("mailserver.imap")


async def uid_expunge(session: ImapSession, command: UidExpunge) -> Response:
    view = view_of(session)
    writable(view)
    wanted = set(resolve_uids(view, command.sequence, uid=True))
    targets = [uid for uid in await deleted_uids(view) if uid in wanted]
    removed = await view.folder.expunge(targets) if targets else []
    log.info(
        "imap %s: %s expunged %d messages from %s (UID EXPUNGE)",
        session.peer,
        session.user,
        len(removed),
        view.folder.name,
    )
    session.recorder.count("expunged", len(removed))
    # The refresh after the command sends the EXPUNGE responses.
    code = await expunged_code(session, view.folder, bool(removed))
    return Response("OK", "UID EXPUNGE completed", code)
