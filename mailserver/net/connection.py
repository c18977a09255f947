"""The life of one line-protocol connection, shared by the POP3 and IMAP listeners.

Admission through the session registry (refused clients get the protocol's
"busy" line), running the session, and always releasing the slot and closing
the stream the session ended on: after STARTTLS/STLS that is the TLS stream,
so the client gets a proper close_notify.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from mailserver.net.sessions import SessionHandle, SessionRegistry
from mailserver.transcripts import SessionRecorder

#: How long a goodbye or a close may take before the connection is just dropped.
CLOSE_TIMEOUT = 5.0


class LineSession(Protocol):
    handle: SessionHandle | None
    writer: asyncio.StreamWriter
    #: ``[ip]:port``, as every log line of the session shows the client.
    peer: str
    recorder: SessionRecorder

    async def run(self) -> None: ...

    def on_shutdown(self) -> None: ...

    def expire(self) -> None: ...

    def finish(self) -> None: ...


def peer_address(writer: asyncio.StreamWriter) -> tuple[str, int]:
    """The client's address and port (two sessions from one PC differ in the port)."""
    peername = writer.get_extra_info("peername")
    return (str(peername[0]), int(peername[1])) if peername else ("unknown", 0)


def describe_peer(ip: str, port: int) -> str:
    """``[ip]:port``: the form of SMTP's log lines, unambiguous for IPv6 too."""
    return f"[{ip}]:{port}"


async def serve_session(
    sessions: SessionRegistry,
    session: LineSession,
    peer: str,
    busy_reply: bytes,
    log: logging.Logger,
    max_session: float = 0.0,
    admitted: SessionHandle | None = None,
) -> None:
    """Admit, run and always clean up one session; ``max_session`` seconds at most.

    ``admitted`` is the slot an implicit-TLS listener took before the handshake.
    """
    handle = sessions.admit(
        peer, session.on_shutdown, lambda: session.writer.transport.abort(), admitted
    )
    if handle is None:
        session.recorder.note("refused: too many connections")
        with contextlib.suppress(Exception):
            session.writer.write(busy_reply)
            await asyncio.wait_for(session.writer.drain(), CLOSE_TIMEOUT)
        session.recorder.close()
        await close_stream(session.writer)
        return
    session.handle = handle
    log.info("connection from %s", session.peer)
    # On the registry's shared deadline heap: one loop timer for all sessions.
    timer = sessions.deadlines.call_later(max_session, session.expire) if max_session > 0 else None
    try:
        await session.run()
    except Exception:
        log.exception("%s: session failed", session.peer)
    finally:
        if timer is not None:
            timer.cancel()
        session.finish()
        session.recorder.close()
        handle.release()
        await close_stream(session.writer)


async def close_stream(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT)
