"""TOP msg n (RFC 1939 section 7): header plus n body lines; unlike RETR, leaves flags alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.pop3.commands.login import maildrop_of
from mailserver.pop3.dotstuff import top_part
from mailserver.pop3.parser import Command

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session


async def run(session: Pop3Session, command: Command) -> None:
    maildrop = maildrop_of(session)
    number, lines = command.numbers
    info = maildrop.get(number)
    data = await maildrop.folder.read(info.uid)
    await session.send_message("+OK top of message follows", top_part(data, lines))
