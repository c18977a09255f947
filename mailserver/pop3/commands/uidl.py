"""UIDL [msg] (RFC 1939 section 7): unique ids that stay the same across sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.pop3.commands.login import maildrop_of
from mailserver.pop3.parser import Command

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session


async def run(session: Pop3Session, command: Command) -> None:
    maildrop = maildrop_of(session)
    if command.numbers:
        number = command.numbers[0]
        info = maildrop.get(number)
        await session.reply(f"+OK {number} {maildrop.uidl(info)}")
        return
    await session.send_lines(
        "+OK",
        (f"{number} {maildrop.uidl(info)}" for number, info in maildrop.numbered()),
    )
