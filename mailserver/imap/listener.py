"""Accept IMAP connections (config key ``listeners.imap``, default port 143)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from mailserver.imap.session import ImapSession
from mailserver.listeners import ListenerContext
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
    context: ListenerContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Run one session from greeting to close; always frees its slot."""
    peername = writer.get_extra_info("peername")
    peer = str(peername[0]) if peername else "unknown"
    session = ImapSession(context, reader, writer, peer)
    handle = context.sessions.open(peer, session.on_shutdown)
    if handle is None:
        with contextlib.suppress(Exception):
            writer.write(BUSY_REPLY)
            await asyncio.wait_for(writer.drain(), 5.0)
        await _close(writer)
        return
    session.handle = handle
    try:
        await session.run()
    except Exception:
        log.exception("imap %s: session failed", peer)
    finally:
        session.finish()
        handle.release()
        await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 5.0)
