"""TOP msg n (RFC 1939 section 7): header plus n body lines; unlike RETR, leaves flags alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.pop3.commands.login import maildrop_of
from mailserver.pop3.dotstuff import top_cut
from mailserver.pop3.parser import Command

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session


async def run(session: Pop3Session, command: Command) -> None:
    maildrop = maildrop_of(session)
    number, lines = command.numbers
    info = maildrop.get(number)
    async with await maildrop.folder.open_message(info.uid) as message:
        await session.send_stream("+OK top of message follows", top_cut(message.chunks(), lines))
