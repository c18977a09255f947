"""Accept IMAP connections (config key ``listeners.imap``, default port 143)."""

from __future__ import annotations

import asyncio
import logging

from mailserver.imap.mime import cache as message_cache
from mailserver.imap.session import ImapSession, imap_line_limit
from mailserver.listeners import ListenerContext, start_stream_listener
from mailserver.net.connection import peer_address, serve_session
from mailserver.net.sessions import SessionHandle

log = logging.getLogger("mailserver.imap")

BUSY_REPLY = b"* BYE Too many connections\r\n"


async def start_listener(context: ListenerContext) -> asyncio.Server:
    async def serve(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handle: SessionHandle | None
    ) -> None:
        await serve_connection(context, reader, writer, handle)

    config = context.services.config
    # After a burst of FETCHes, an idle server keeps only a few parsed messages.
    context.sessions.quiet.add_hook(message_cache.release_idle)
    return await start_stream_listener(
        context, config.timeouts.imap, serve, log, imap_line_limit(config)
    )


async def serve_connection(
    context: ListenerContext,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    admitted: SessionHandle | None = None,
) -> None:
    """Run one session from greeting to close; always frees its slot (``admitted``:
    taken by the implicit-TLS listener before the handshake)."""
    ip, port = peer_address(writer)
    session = ImapSession(context, reader, writer, ip, port)
    max_session = context.services.config.timeouts.imap_session
    await serve_session(context.sessions, session, ip, BUSY_REPLY, log, max_session, admitted)
