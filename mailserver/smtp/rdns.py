"""Reverse DNS for the ``Received`` trace field, without ever waiting for it.

A lab network often has no DNS at all, and a resolver that times out must
not delay the greeting or tie up the threads the store uses for its file
I/O. So each lookup runs in its own daemon thread (a hung resolver cannot
delay process exit either), at most :data:`MAX_PENDING` at once, and the
answer is simply absent if it is not there when the message is written.

Answers (a name or none) are kept for :data:`CACHE_SECONDS`: a lab machine
or a relay that opens one connection per message would otherwise start a
thread and ask the resolver for every message (the SMTP benchmark's
profile showed thread start-up among the per-message costs).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable

#: Lookups allowed in flight; beyond this, clients just get no name.
MAX_PENDING = 8

#: Seconds a finished lookup's answer is reused for the same address.
CACHE_SECONDS = 300.0
#: Addresses remembered; the oldest answer goes first beyond this.
CACHE_SIZE = 1024

_slots = threading.BoundedSemaphore(MAX_PENDING)
#: address -> (monotonic time of the answer, name or None); written by lookup threads.
_answers: dict[str, tuple[float, str | None]] = {}
_answers_lock = threading.Lock()


def lookup(ip: str, on_answer: Callable[[str], None]) -> None:
    """Resolve ``ip`` in the background and call ``on_answer(name)`` on the event loop."""
    loop = asyncio.get_running_loop()
    with _answers_lock:
        cached = _answers.get(ip)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        if cached[1] is not None:
            loop.call_soon(on_answer, cached[1])
        return
    if not _slots.acquire(blocking=False):
        return

    def work() -> None:
        name: str | None = None
        try:
            name, _ = socket.getnameinfo((ip, 0), socket.NI_NAMEREQD)
        except (OSError, UnicodeError):
            name = None
        finally:
            _slots.release()
        if name == ip or not name:
            name = None
        _remember(ip, name)
        if name is not None and not loop.is_closed():
            loop.call_soon_threadsafe(on_answer, name)

    threading.Thread(target=work, name="smtp-rdns", daemon=True).start()


def _remember(ip: str, name: str | None) -> None:
    with _answers_lock:
        _answers.pop(ip, None)
        while len(_answers) >= CACHE_SIZE:
            del _answers[next(iter(_answers))]
        _answers[ip] = (time.monotonic(), name)


def forget() -> None:
    """Drop every remembered answer (tests; a changed resolver configuration)."""
    with _answers_lock:
        _answers.clear()
