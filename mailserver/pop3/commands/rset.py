"""RSET (RFC 1939 section 5): undo every DELE of this session."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.pop3.commands.login import maildrop_of, summary
from mailserver.pop3.parser import Command

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session


async def run(session: Pop3Session, command: Command) -> None:
    maildrop = maildrop_of(session)
    maildrop.reset()
    await session.reply(f"+OK maildrop has {summary(maildrop.count, maildrop.size)}")
