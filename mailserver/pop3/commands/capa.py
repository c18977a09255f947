"""CAPA (RFC 2449): what this server supports, valid before and after login."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.pop3.commands.auth import offered_mechanisms
from mailserver.pop3.parser import Command
from mailserver.pop3.states import State

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session


def capabilities(session: Pop3Session) -> list[str]:
    lines = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER"]
    if session.plaintext_allowed:
        lines.append("USER")
        lines.append("SASL " + " ".join(offered_mechanisms(session)))
    # RFC 2595 4: only before login, and never again once the connection is TLS.
    if session.stls_available and session.state is State.AUTHORIZATION:
        lines.append("STLS")
    lines.append("IMPLEMENTATION mailserver")
    return lines


async def run(session: Pop3Session, command: Command) -> None:
    await session.send_lines("+OK Capability list follows", capabilities(session))
