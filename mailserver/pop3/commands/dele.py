"""DELE msg (RFC 1939 section 5): only marks; the store changes in UPDATE, after QUIT."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.pop3.commands.login import maildrop_of
from mailserver.pop3.parser import Command

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session


async def run(session: Pop3Session, command: Command) -> None:
    number = command.numbers[0]
    maildrop_of(session).mark_deleted(number)
    session.recorder.count("deleted")
    await session.reply(f"+OK message {number} deleted")
