"""Accept IMAP connections (config key ``listeners.imap``, default port 143)."""

from __future__ import annotations

import asyncio
import logging

from mailserver.imap.session import ImapSession
from mailserver.listeners import ListenerContext
from mailserver.net.connection import peer_address, serve_session
from mailserver.net.implicit_tls import start_implicit_tls_server, stream_app
from mailserver.net.lines import stream_limit
from mailserver.net.sessions import SessionHandle
from mailserver.net.starttls import TLS_HANDSHAKE_TIMEOUT

log = logging.getLogger("mailserver.imap")

BUSY_REPLY = b"* BYE Too many connections\r\n"


async def start_listener(context: ListenerContext) -> asyncio.Server:
    config = context.services.config

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connection(context, reader, writer)

    async def serve_admitted(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handle: SessionHandle
    ) -> None:
        await serve_connection(context, reader, writer, handle)

    if context.ssl_context is not None:
        return await start_implicit_tls_server(
            context.address.host,
            context.address.port,
            context.sessions,
            context.ssl_context,
            min(config.timeouts.imap, TLS_HANDSHAKE_TIMEOUT),
            stream_app(config.limits.max_line_length, serve_admitted),
            log,
            context.name,
        )
    return await asyncio.start_server(
        on_connect,
        context.address.host,
        context.address.port,
        limit=stream_limit(config.limits.max_line_length),
    )


async def serve_connection(
    context: ListenerContext,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    admitted: SessionHandle | None = None,
) -> None:
    """Run one session from greeting to close; always frees its slot (``admitted``:
    taken by the implicit-TLS listener before the handshake)."""
    peer = peer_address(writer)
    session = ImapSession(context, reader, writer, peer)
    max_session = context.services.config.timeouts.imap_session
    await serve_session(context.sessions, session, peer, BUSY_REPLY, log, max_session, admitted)
