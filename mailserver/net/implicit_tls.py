"""Implicit-TLS listeners (smtps, pop3s, imaps) that admit a client before its handshake.

``create_server(ssl=...)`` hands a connection to the protocol only once the
TLS handshake is done, so the connection limits would only see it then: a
flood of clients that connect and never finish the handshake would hold
sockets and TLS state outside every limit for the whole handshake timeout.
Here the listener accepts plain TCP, takes a slot in the session registry
first, and only then runs the handshake within ``handshake_timeout``. A
refused client is just closed: it expects TLS, so a plaintext "busy" line
would be garbage to it (RFC 8314 leaves the refusal to the transport).

The protocol that serves the session is built with the slot already taken
(:data:`AppFactory`) and must adopt it with
:meth:`SessionHandle.set_shutdown_callback`; until then a shutdown simply
drops the handshaking connection.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from asyncio import sslproto
from collections.abc import Awaitable, Callable
from typing import cast

from mailserver.net.backlog import BACKLOG
from mailserver.net.lines import stream_limit
from mailserver.net.sessions import SessionHandle, SessionRegistry
from mailserver.net.streams import LeanStreamReaderProtocol

#: Builds the protocol that serves one admitted connection once TLS is up.
AppFactory = Callable[[SessionHandle], asyncio.BaseProtocol]
#: A stream session for :func:`stream_app`: reader, writer and the admitted slot.
StreamSession = Callable[
    [asyncio.StreamReader, asyncio.StreamWriter, SessionHandle], Awaitable[None]
]


async def start_implicit_tls_server(
    host: str,
    port: int,
    sessions: SessionRegistry,
    context: ssl.SSLContext,
    handshake_timeout: float,
    make_app: AppFactory,
    log: logging.Logger,
    label: str,
    sock: socket.socket | None = None,
) -> asyncio.Server:
    """Listen on ``host:port``; every connection is admitted, then handshaken, then served.

    ``label`` (the listener's name) starts the log line of a failed handshake;
    ``sock`` is a socket already listening (a worker's, bound by the supervisor).
    """
    loop = asyncio.get_running_loop()

    def gate() -> _TlsGate:
        return _TlsGate(sessions, context, handshake_timeout, make_app, log, label)

    if sock is not None:
        return await loop.create_server(gate, sock=sock, backlog=BACKLOG)
    return await loop.create_server(gate, host, port, backlog=BACKLOG)


def stream_app(max_line_length: int, serve: StreamSession) -> AppFactory:
    """An :data:`AppFactory` for the stream-based sessions (POP3, IMAP)."""

    def make(handle: SessionHandle) -> asyncio.BaseProtocol:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=stream_limit(max_line_length), loop=loop)

        def connected(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> Awaitable[None]:
            return serve(reader, writer, handle)

        return LeanStreamReaderProtocol(reader, connected, loop=loop)

    return make


class _TlsGate(asyncio.Protocol):
    """Takes the slot at accept, then puts the TLS layer under the app, before any read.

    The TLS layer is attached inside ``connection_made``, before the loop
    starts reading (uvloop reads right after ``connection_made`` returns, so a
    ``start_tls`` scheduled from here would lose the ClientHello). It is the
    ``SSLProtocol`` that ``create_server(ssl=...)`` and aiosmtpd's STARTTLS use.
    """

    def __init__(
        self,
        sessions: SessionRegistry,
        context: ssl.SSLContext,
        handshake_timeout: float,
        make_app: AppFactory,
        log: logging.Logger,
        label: str,
    ) -> None:
        self._sessions = sessions
        self._context = context
        self._timeout = handshake_timeout
        self._make_app = make_app
        self._log = log
        self._label = label

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's transports are not
        # subclasses of asyncio's transport classes.
        raw = cast(asyncio.Transport, transport)
        peername = raw.get_extra_info("peername")
        peer = str(peername[0]) if peername else "unknown"
        # Until the session takes the slot over, a shutdown just hangs up.
        handle = self._sessions.open(peer, raw.abort, raw.abort)
        if handle is None:
            raw.abort()
            return
        loop = asyncio.get_running_loop()
        app = _Connected(self._make_app(handle))
        waiter: asyncio.Future[None] = loop.create_future()
        tls = sslproto.SSLProtocol(
            loop,
            app,
            self._context,
            waiter,
            server_side=True,
            # Seconds as a float work; typeshed says int.
            ssl_handshake_timeout=self._timeout,  # type: ignore[arg-type]
        )
        raw.set_protocol(tls)
        tls.connection_made(raw)
        waiter.add_done_callback(lambda done: self._handshake_done(done, raw, handle, app, peer))

    def _handshake_done(
        self,
        done: asyncio.Future[None],
        raw: asyncio.Transport,
        handle: SessionHandle,
        app: _Connected,
        peer: str,
    ) -> None:
        """The app owns the slot once it is connected; otherwise give the slot back."""
        if app.connected:
            return
        if done.cancelled():
            reason = "cancelled"
        else:
            error = done.exception()
            reason = (
                "connection closed"
                if error is None
                else getattr(error, "reason", None) or type(error).__name__
            )
        self._log.info("%s %s: TLS handshake failed (%s)", self._label, peer, reason)
        raw.abort()
        handle.release()


class _Connected(asyncio.Protocol):
    """Passes everything to the app and remembers whether it was ever connected.

    A connection lost mid-handshake completes the handshake's waiter without
    an error and without connecting the app; only this flag tells the two apart.
    """

    def __init__(self, app: asyncio.BaseProtocol) -> None:
        self._app = cast(asyncio.Protocol, app)
        self.connected = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.connected = True
        self._app.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._app.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._app.data_received(data)

    def eof_received(self) -> bool | None:
        return self._app.eof_received()

    def pause_writing(self) -> None:
        self._app.pause_writing()

    def resume_writing(self) -> None:
        self._app.resume_writing()
