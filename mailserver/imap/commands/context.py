"""CANCELUPDATE (RFC 5267 4.3.5): stop the updates of SEARCH/SORT contexts by tag."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.imap.commands.selected import view_of
from mailserver.imap.contexts import cancel
from mailserver.imap.errors import Response, no
from mailserver.imap.parser.context import CancelUpdate

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession


async def cancelupdate(session: ImapSession, command: CancelUpdate) -> Response:
    view = view_of(session)
    unknown = [tag for tag in command.tags if not cancel(view, tag)]
    if unknown:
        raise no("Unknown tag")  # as Dovecot; the known ones are cancelled all the same
    return Response("OK", "Updates cancelled")
