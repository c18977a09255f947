"""The table of protocol listeners: config key -> function that starts one.

A protocol package provides ``start_listener(context) -> asyncio.Server``;
nothing else about it is known here, so protocols stay independent.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from mailserver.config import ListenAddress
from mailserver.net.implicit_tls import start_implicit_tls_server, stream_app
from mailserver.net.lines import stream_limit
from mailserver.net.sessions import SessionHandle, SessionRegistry
from mailserver.net.starttls import handshake_limit
from mailserver.net.streams import start_stream_server
from mailserver.services import Services


@dataclass(frozen=True)
class ListenerContext:
    """Everything one listener needs to accept and serve connections."""

    name: str
    services: Services
    address: ListenAddress
    sessions: SessionRegistry
    #: Set for implicit-TLS listeners (smtps, pop3s, imaps).
    ssl_context: ssl.SSLContext | None = None
    #: For STARTTLS / STLS; None until TLS is configured.
    starttls_context: ssl.SSLContext | None = None
    #: A socket already bound and listening (a worker serves the one its
    #: supervisor bound); None: the listener binds ``address`` itself.
    sock: socket.socket | None = None


StartListener = Callable[[ListenerContext], Awaitable[asyncio.Server]]

#: Serves one stream connection; the handle is the slot an implicit-TLS
#: listener took before the handshake (None on a plain listener).
StreamServe = Callable[
    [asyncio.StreamReader, asyncio.StreamWriter, SessionHandle | None], Awaitable[None]
]

#: Config listener key -> "module:function". A key whose module is missing is
#: reported at start-up and skipped (the protocol is not built yet).
LISTENERS: dict[str, str] = {
    "smtp": "mailserver.smtp.listener:start_listener",
    "submission": "mailserver.smtp.listener:start_listener",
    "smtps": "mailserver.smtp.listener:start_listener",
    "pop3": "mailserver.pop3.listener:start_listener",
    "pop3s": "mailserver.pop3.listener:start_listener",
    "imap": "mailserver.imap.listener:start_listener",
    "imaps": "mailserver.imap.listener:start_listener",
    "http": "mailserver.web.listener:start_listener",
    "https": "mailserver.web.listener:start_listener",
}

#: Listeners that speak TLS from the first byte (RFC 8314 implicit TLS).
IMPLICIT_TLS: frozenset[str] = frozenset({"smtps", "pop3s", "imaps", "https"})


def listener_available(name: str) -> bool:
    """Whether :func:`find_listener` would find ``name``, without importing the
    protocol (the supervisor of ``workers: N`` binds sockets and never serves)."""
    target = LISTENERS.get(name)
    if target is None:
        return False
    try:
        return importlib.util.find_spec(target.partition(":")[0]) is not None
    except ModuleNotFoundError:
        return False


def find_listener(name: str) -> StartListener | None:
    """The start function for a listener key, or None if that protocol is not available."""
    target = LISTENERS.get(name)
    if target is None:
        return None
    module_name, _, function = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None
        raise
    start: StartListener = getattr(module, function)
    return start


async def start_stream_listener(
    context: ListenerContext,
    idle_timeout: float,
    serve: StreamServe,
    log: logging.Logger,
    max_line: int | None = None,
) -> asyncio.Server:
    """Listen for a stream-based protocol (POP3, IMAP), plain or with implicit TLS.

    The handshake of an implicit-TLS client may take no longer than the
    protocol's idle timeout (and never more than STARTTLS allows). ``max_line``:
    the protocol's longest line, if not ``limits.max_line_length``.
    """
    if max_line is None:
        max_line = context.services.config.limits.max_line_length
    host, port = context.address.host, context.address.port
    if context.ssl_context is not None:
        return await start_implicit_tls_server(
            host,
            port,
            context.sessions,
            context.ssl_context,
            handshake_limit(idle_timeout),
            stream_app(max_line, serve),
            log,
            context.name,
            sock=context.sock,
        )

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve(reader, writer, None)

    if context.sock is not None:
        limit = stream_limit(max_line)
        return await start_stream_server(on_connect, sock=context.sock, limit=limit)
    return await start_stream_server(on_connect, host, port, limit=stream_limit(max_line))
