"""NOOP (RFC 1939 section 5): keeps the session alive (the idle timer restarts on any line)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.pop3.parser import Command

if TYPE_CHECKING:
    from mailserver.pop3.session import Pop3Session


async def run(session: Pop3Session, command: Command) -> None:
    await session.reply("+OK")
