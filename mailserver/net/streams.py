"""asyncio streams for many long-lived connections: the same protocol, lighter per connection.

``asyncio.StreamReaderProtocol`` keeps its drain waiters in a
``collections.deque``: ~700 octets per connection for a queue that is empty
except while a writer waits for a slow client. Ten thousand idle IMAP
sessions held 7 MB of them. A list does the same job here (append, remove,
iterate: the only operations asyncio uses on it) for 56 octets.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from mailserver.net.backlog import BACKLOG

ConnectedCallback = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class LeanStreamReaderProtocol(asyncio.StreamReaderProtocol):
    """``StreamReaderProtocol`` with its drain waiters in a list (see the module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only when the attribute is what this was written against (CPython 3.11-3.13).
        if type(getattr(self, "_drain_waiters", None)).__name__ == "deque":
            self._drain_waiters: Any = []


async def start_stream_server(
    connected: ConnectedCallback,
    host: str | None = None,
    port: int = 0,
    *,
    sock: socket.socket | None = None,
    limit: int,
) -> asyncio.Server:
    """``asyncio.start_server`` with :class:`LeanStreamReaderProtocol`."""
    loop = asyncio.get_running_loop()

    def factory() -> LeanStreamReaderProtocol:
        reader = asyncio.StreamReader(limit=limit, loop=loop)
        return LeanStreamReaderProtocol(reader, connected, loop=loop)

    if sock is not None:
        return await loop.create_server(factory, sock=sock, backlog=BACKLOG)
    return await loop.create_server(factory, host, port, backlog=BACKLOG)
