"""The ``http`` and ``https`` listeners: the web app served on our own event loop.

``https`` gets the same TLS context as smtps/pop3s/imaps (the configured
certificate or the self-signed one). The whole listener takes one slot in
the session registry, so a graceful shutdown also closes the web
connections (and stops the console's live streams) within the grace period.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from aiohttp import web

from mailserver.listeners import ListenerContext
from mailserver.net.backlog import BACKLOG
from mailserver.net.starttls import handshake_limit
from mailserver.server import StartupError
from mailserver.web.app import build_app
from mailserver.workers import worker_index

log = logging.getLogger("mailserver.web")

#: Seconds an open web connection may sit idle between requests.
KEEPALIVE_TIMEOUT = 75.0
#: Seconds the shutdown waits for requests in progress.
SHUTDOWN_TIMEOUT = 3.0


async def start_listener(context: ListenerContext) -> asyncio.Server:
    """Bind the listener's address and serve the web app there."""
    try:
        app = build_app(context.services, context.name)
    except (sqlite3.Error, OSError) as exc:
        raise StartupError(f"{context.name}: cannot open the web session table: {exc}") from None
    runner = web.AppRunner(
        app,
        handle_signals=False,
        # One line per page view is noise for thirty students; kept for log_level DEBUG.
        access_log=logging.getLogger("mailserver.web.access")
        if context.services.config.log_level == "DEBUG"
        else None,
        keepalive_timeout=KEEPALIVE_TIMEOUT,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
    )
    await runner.setup()
    protocol_factory = runner.server
    assert protocol_factory is not None  # set by setup()
    loop = asyncio.get_running_loop()
    try:
        # A worker serves the socket its supervisor bound (shared by all
        # workers); a single process binds the address itself.
        handshake = handshake_limit(KEEPALIVE_TIMEOUT) if context.ssl_context is not None else None
        if context.sock is not None:
            server = await loop.create_server(
                protocol_factory,
                sock=context.sock,
                ssl=context.ssl_context,
                ssl_handshake_timeout=handshake,
                backlog=BACKLOG,
            )
        else:
            server = await loop.create_server(
                protocol_factory,
                context.address.host,
                context.address.port,
                ssl=context.ssl_context,
                ssl_handshake_timeout=handshake,
                backlog=BACKLOG,
            )
    except OSError:
        await runner.cleanup()
        raise
    _register_for_shutdown(context, runner)
    # Every worker serves the same socket: one line in the log is enough.
    level = logging.INFO if worker_index() in (None, 0) else logging.DEBUG
    log.log(level, "webmail: %s", _urls(context, server))
    return server


def _urls(context: ListenerContext, server: asyncio.Server) -> str:
    """The address to type in a browser, for this machine and for students' PCs."""
    scheme = "https" if context.ssl_context is not None else "http"
    port = server.sockets[0].getsockname()[1] if server.sockets else context.address.port
    suffix = "" if (scheme, port) in (("http", 80), ("https", 443)) else f":{port}"
    host = context.address.host
    if host in ("0.0.0.0", "::", ""):
        name = context.services.config.hostname
        return f"open {scheme}://localhost{suffix}/ here, {scheme}://{name}{suffix}/ from other PCs"
    shown = f"[{host}]" if ":" in host else host
    return f"open {scheme}://{shown}{suffix}/"


def _register_for_shutdown(context: ListenerContext, runner: web.AppRunner) -> None:
    cleanup: list[asyncio.Task[None]] = []

    def stop() -> None:
        if not cleanup:
            cleanup.append(asyncio.get_running_loop().create_task(_cleanup()))

    async def _cleanup() -> None:
        try:
            await runner.cleanup()
        except Exception:
            log.exception("error while closing the %s listener", context.name)
        finally:
            if handle is not None:
                handle.release()

    handle = context.sessions.open(f"{context.name}-listener", stop, stop)
