"""CAPA (RFC 2449): what this server supports, valid before and after login."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.pop3.commands.auth import offered_mechanisms
from mailserver.pop3.parser import Command

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session


def capabilities(session: Pop3Session) -> list[str]:
    lines = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER"]
    if session.plaintext_allowed:
        lines.append("USER")
        lines.append("SASL " + " ".join(offered_mechanisms(session)))
    # STLS goes here once the STLS command exists and session.starttls_context is set.
    lines.append("IMPLEMENTATION mailserver")
    return lines


async def run(session: Pop3Session, command: Command) -> None:
    await session.send_lines("+OK Capability list follows", capabilities(session))
