"""PASS secret (RFC 1939 section 7): check USER's password and open the maildrop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.pop3.commands.login import begin_transaction, login_failed, require_plaintext
from mailserver.pop3.errors import Pop3Error
from mailserver.pop3.parser import Command

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session


async def run(session: Pop3Session, command: Command) -> None:
    require_plaintext(session)
    login = session.pending_user
    if login is None:
        raise Pop3Error("-ERR send USER first")
    session.pending_user = None
    user = await session.services.auth.authenticate(login, command.text, session.peer_ip)
    if user is None:
        raise login_failed(session, login, "USER/PASS")
    await begin_transaction(session, user, "USER/PASS")
