"""Accept POP3 connections (config key ``listeners.pop3``, default port 110)."""

from __future__ import annotations

import asyncio
import logging

from mailserver.listeners import ListenerContext, start_stream_listener
from mailserver.net.connection import peer_address, serve_session
from mailserver.net.sessions import SessionHandle
from mailserver.pop3.locks import MaildropLocks, locks_for
from mailserver.pop3.session import Pop3Session

log = logging.getLogger("mailserver.pop3")

BUSY_REPLY = b"-ERR [SYS/TEMP] too many connections, please try again later\r\n"


async def start_listener(context: ListenerContext) -> asyncio.Server:
    # In data_dir, so that every worker process (and server) on it shares the locks.
    locks = locks_for(context.services.store, context.services.config.data_dir / "run" / "pop3")

    async def serve(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handle: SessionHandle | None
    ) -> None:
        await serve_connection(context, locks, reader, writer, handle)

    return await start_stream_listener(context, context.services.config.timeouts.pop3, serve, log)


async def serve_connection(
    context: ListenerContext,
    locks: MaildropLocks,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    admitted: SessionHandle | None = None,
) -> None:
    """Run one session from greeting to close; always frees its slot (``admitted``:
    taken by the implicit-TLS listener before the handshake)."""
    peer = peer_address(writer)
    session = Pop3Session(context, locks, reader, writer, peer)
    max_session = context.services.config.timeouts.pop3_session
    await serve_session(context.sessions, session, peer, BUSY_REPLY, log, max_session, admitted)
