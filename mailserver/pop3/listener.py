"""Accept POP3 connections (config key ``listeners.pop3``, default port 110)."""

from __future__ import annotations

import asyncio
import logging

from mailserver.listeners import ListenerContext
from mailserver.net.connection import peer_address, serve_session
from mailserver.net.implicit_tls import start_implicit_tls_server, stream_app
from mailserver.net.lines import stream_limit
from mailserver.net.sessions import SessionHandle
from mailserver.net.starttls import TLS_HANDSHAKE_TIMEOUT
from mailserver.pop3.locks import MaildropLocks, locks_for
from mailserver.pop3.session import Pop3Session

log = logging.getLogger("mailserver.pop3")

BUSY_REPLY = b"-ERR [SYS/TEMP] too many connections, please try again later\r\n"


async def start_listener(context: ListenerContext) -> asyncio.Server:
    config = context.services.config
    locks = locks_for(context.services.store)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connection(context, locks, reader, writer)

    async def serve_admitted(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handle: SessionHandle
    ) -> None:
        await serve_connection(context, locks, reader, writer, handle)

    if context.ssl_context is not None:
        return await start_implicit_tls_server(
            context.address.host,
            context.address.port,
            context.sessions,
            context.ssl_context,
            min(config.timeouts.pop3, TLS_HANDSHAKE_TIMEOUT),
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
