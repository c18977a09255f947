"""STAT (RFC 1939 section 5): count and size of the messages not marked deleted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.pop3.commands.login import maildrop_of
from mailserver.pop3.parser import Command

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session


async def run(session: Pop3Session, command: Command) -> None:
    maildrop = maildrop_of(session)
    await session.reply(f"+OK {maildrop.count} {maildrop.size}")
