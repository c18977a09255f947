"""Accept POP3 connections (config key ``listeners.pop3``, default port 110)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from mailserver.listeners import ListenerContext
from mailserver.net.lines import stream_limit
from mailserver.pop3.locks import MaildropLocks, locks_for
from mailserver.pop3.session import Pop3Session

log = logging.getLogger("mailserver.pop3")

BUSY_REPLY = b"-ERR [SYS/TEMP] too many connections, please try again later\r\n"


async def start_listener(context: ListenerContext) -> asyncio.Server:
    config = context.services.config
    locks = locks_for(context.services.store)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connection(context, locks, reader, writer)

    return await asyncio.start_server(
        on_connect,
        context.address.host,
        context.address.port,
        limit=stream_limit(config.limits.max_line_length),
        ssl=context.ssl_context,
    )


async def serve_connection(
    context: ListenerContext,
    locks: MaildropLocks,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
) -> None:
    """Run one session from greeting to close; always frees its slot and its lock."""
    peername = writer.get_extra_info("peername")
    peer = str(peername[0]) if peername else "unknown"
    session = Pop3Session(context, locks, reader, writer, peer)
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
        log.exception("pop3 %s: session failed", peer)
    finally:
        session.finish()
        handle.release()
        # After STLS the session's writer is the TLS one: close that, with close_notify.
        await _close(session.writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 5.0)
