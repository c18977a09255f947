"""ID (RFC 2971), NAMESPACE (RFC 2342) and UNSELECT (RFC 3691): small commands that
tell the client about the server or drop the selected mailbox."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mailserver.imap import wire
from mailserver.imap.errors import Response
from mailserver.imap.parser.base import NoArguments
from mailserver.imap.parser.extensions import Id

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

log = logging.getLogger("mailserver.imap")

SERVER_ID = (("name", "mailserver"), ("vendor", "JServer.NetLab lab"))
#: Personal namespace only, no prefix, "/" as delimiter; no other users', no shared.
NAMESPACE_LINE = b'* NAMESPACE (("" "/")) NIL NIL\r\n'


async def id_(session: ImapSession, command: Id) -> Response:
    if command.fields:
        # Handy when a lab client misbehaves; the values were capped by the parser.
        shown = ", ".join(f"{k}={v!r}" for k, v in command.fields[:6])
        log.info("imap %s: client id %s", session.peer, shown[:300])
    body = b" ".join(wire.quoted(k) + b" " + wire.quoted(v) for k, v in SERVER_ID)
    await session.send(b"* ID (" + body + b")\r\n")
    return Response("OK", "ID completed")


async def namespace(session: ImapSession, command: NoArguments) -> Response:
    await session.send(NAMESPACE_LINE)
    return Response("OK", "Namespace completed")


async def unselect(session: ImapSession, command: NoArguments) -> Response:
    # Like CLOSE, but \Deleted messages stay (RFC 3691 2).
    session.unselect()
    return Response("OK", "Unselect completed")
