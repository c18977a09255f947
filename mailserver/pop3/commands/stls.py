"""STLS (RFC 2595 section 4): switch the connection to TLS before login.

After the handshake the session starts over as RFC 2595 asks: a USER name
given in plaintext is forgotten, anything the client sent behind STLS
before the handshake is dropped (``Pop3Session.start_tls``), and CAPA no
longer lists STLS but does list the logins that needed TLS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.pop3.errors import Pop3Error
from mailserver.pop3.parser import Command

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session

BEGIN = "+OK Begin TLS negotiation"
ALREADY_TLS = "-ERR command not permitted when TLS active"
NOT_AVAILABLE = "-ERR STLS not available on this server"


async def run(session: Pop3Session, command: Command) -> None:
    if session.secure:
        raise Pop3Error(ALREADY_TLS)
    context = session.starttls_context
    if context is None:
        raise Pop3Error(NOT_AVAILABLE)
    await session.reply(BEGIN)
    session.pending_user = None
    await session.start_tls(context)
