"""Reverse DNS for the ``Received`` trace field, without ever waiting for it.

A lab network often has no DNS at all, and a resolver that times out must
not delay the greeting or tie up the threads the store uses for its file
I/O. So each lookup runs in its own daemon thread (a hung resolver cannot
delay process exit either), at most :data:`MAX_PENDING` at once, and the
answer is simply absent if it is not there when the message is written.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable

#: Lookups allowed in flight; beyond this, clients just get no name.
MAX_PENDING = 8

_slots = threading.BoundedSemaphore(MAX_PENDING)


def lookup(ip: str, on_answer: Callable[[str], None]) -> None:
    """Resolve ``ip`` in the background and call ``on_answer(name)`` on the event loop."""
    if not _slots.acquire(blocking=False):
        return
    loop = asyncio.get_running_loop()

    def work() -> None:
        try:
            name, _ = socket.getnameinfo((ip, 0), socket.NI_NAMEREQD)
        except (OSError, UnicodeError):
            return
        finally:
            _slots.release()
        if name and name != ip and not loop.is_closed():
            loop.call_soon_threadsafe(on_answer, name)

    threading.Thread(target=work, name="smtp-rdns", daemon=True).start()
