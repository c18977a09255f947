"""LIST [msg] (RFC 1939 section 5): sizes, exactly the octets RETR will send before stuffing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.pop3.commands.login import maildrop_of, summary
from mailserver.pop3.parser import Command

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session


async def run(session: Pop3Session, command: Command) -> None:
    maildrop = maildrop_of(session)
    if command.numbers:
        number = command.numbers[0]
        info = maildrop.get(number)
        await session.reply(f"+OK {number} {info.size}")
        return
    await session.send_lines(
        f"+OK {summary(maildrop.count, maildrop.size)}",
        (f"{number} {info.size}" for number, info in maildrop.numbered()),
    )
