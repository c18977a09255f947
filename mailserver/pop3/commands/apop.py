"""APOP name digest (RFC 1939 section 7): MD5 of the greeting's timestamp and the secret.

Only users with a stored plaintext-equivalent secret can use it; for the
others the check fails exactly like a wrong digest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.pop3.commands.login import begin_transaction, login_failed
from mailserver.pop3.parser import Command

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session


async def run(session: Pop3Session, command: Command) -> None:
    name, digest = command.words
    session.pending_user = None
    user = await session.services.auth.apop(name, session.banner, digest, client=session.peer_ip)
    if user is None:
        raise login_failed(session, name, "APOP")
    await begin_transaction(session, user, "APOP")
