"""Accept IMAP connections (config key ``listeners.imap``, default port 143)."""

from __future__ import annotations

import asyncio
import logging

from mailserver.imap.session import ImapSession
from mailserver.listeners import ListenerContext
from mailserver.net.connection import peer_address, serve_session
from mailserver.net.lines import stream_limit

log = logging.getLogger("mailserver.imap")

BUSY_REPLY = b"* BYE Too many connections\r\n"


async def start_listener(context: ListenerContext) -> asyncio.Server:
    config = context.services.config

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connection(context, reader, writer)

    return await asyncio.start_server(
        on_connect,
        context.address.host,
        context.address.port,
        limit=stream_limit(config.limits.max_line_length),
        ssl=context.ssl_context,
    )


async def serve_connection(
    context: ListenerContext,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    """Run one session from greeting to close; always frees its slot."""
    peer = peer_address(writer)
    session = ImapSession(context, reader, writer, peer)
    max_session = context.services.config.timeouts.imap_session
    await serve_session(context.sessions, session, peer, BUSY_REPLY, log, max_session)
