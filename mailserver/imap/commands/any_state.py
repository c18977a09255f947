"""CAPABILITY, NOOP, LOGOUT: valid in every state (RFC 3501 6.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.imap.errors import Response
from mailserver.imap.parser.commands import NoArguments
from mailserver.imap.states import State

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession


async def capability(session: ImapSession, command: NoArguments) -> Response:
    await session.send(f"* CAPABILITY {session.capabilities()}\r\n".encode())
    return Response("OK", "Capability completed")


async def noop(session: ImapSession, command: NoArguments) -> Response:
    # The session refreshes the selected view after every command: that is
    # the whole point of NOOP (RFC 3501 6.1.2).
    return Response("OK", "Noop completed")


async def logout(session: ImapSession, command: NoArguments) -> Response:
    await session.send(b"* BYE Logging out\r\n")
    session.unselect()
    session.state = State.LOGOUT
    session.closing = True
    return Response("OK", "Logout completed")
