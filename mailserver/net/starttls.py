"""Upgrade a plaintext stream to TLS in place (POP3 STLS, IMAP STARTTLS).

The plaintext reader is abandoned rather than reused: the TLS layer gets a
fresh reader, so anything the client pipelined after the STARTTLS command
but before the handshake (the STARTTLS command-injection trick, CVE-2011-0411
and its many relatives) stays in the old buffer and is never executed.
``loop.start_tls`` is called directly because it behaves the same under
asyncio and uvloop; ``StreamWriter.start_tls`` would keep the old buffer.
"""

from __future__ import annotations

import asyncio
import ssl

from mailserver.net.lines import stream_limit
from mailserver.net.streams import LeanStreamReaderProtocol

#: Longest a client may take for the handshake.
TLS_HANDSHAKE_TIMEOUT = 30.0


def handshake_limit(idle_timeout: float) -> float:
    """Seconds a handshake may take: no longer than the protocol lets a client
    sit idle, and never more than :data:`TLS_HANDSHAKE_TIMEOUT`."""
    return min(idle_timeout, TLS_HANDSHAKE_TIMEOUT)


class TlsHandshakeFailed(Exception):
    """The handshake failed or the peer left; ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def upgrade_to_tls(
    writer: asyncio.StreamWriter,
    context: ssl.SSLContext,
    max_line_length: int,
    handshake_timeout: float = TLS_HANDSHAKE_TIMEOUT,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Run the server side of the handshake; return the new reader and writer."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=stream_limit(max_line_length), loop=loop)
    protocol = LeanStreamReaderProtocol(reader, loop=loop)
    try:
        transport = await loop.start_tls(
            writer.transport,
            protocol,
            context,
            server_side=True,
            ssl_handshake_timeout=handshake_timeout,
        )
    except (OSError, TimeoutError, ssl.SSLError, EOFError) as exc:
        raise TlsHandshakeFailed(getattr(exc, "reason", None) or type(exc).__name__) from None
    if transport is None:
        raise TlsHandshakeFailed("peer closed the connection during the handshake")
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


def describe_tls(writer: asyncio.StreamWriter) -> str:
    """``TLSv1.3 TLS_AES_256_GCM_SHA384``: what session log lines report."""
    ssl_object = writer.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return "unknown TLS parameters"
    cipher = ssl_object.cipher()
    return f"{ssl_object.version() or '?'} {cipher[0] if cipher else '?'}"
