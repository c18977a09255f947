"""USER name (RFC 1939 section 7): remember the name until PASS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.pop3.commands.login import require_plaintext
from mailserver.pop3.parser import Command

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session


async def run(session: Pop3Session, command: Command) -> None:
    require_plaintext(session)
    # Always +OK: whether the name exists is revealed by nothing but a failed PASS.
    session.pending_user = command.words[0]
    await session.reply("+OK")
