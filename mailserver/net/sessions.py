"""Admission control and graceful shutdown shared by every listener.

Each protocol session registers itself here. The registry enforces the
connection limits (in total and per client address) and, at shutdown, ends
idle sessions at once while letting sessions in the middle of a transaction
(an SMTP DATA, an IMAP APPEND, a POP3 UPDATE) finish first, so that nothing
the server is about to acknowledge is cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator

from mailserver.net.deadlines import Deadlines
from mailserver.net.memory import QuietRelease

log = logging.getLogger(__name__)

ShutdownCallback = Callable[[], None]

#: After the grace period, how long sessions get to say goodbye, and then to go once cut off.
GOODBYE_TIMEOUT = 1.0


class SessionHandle:
    """One connected client, as the registry sees it."""

    def __init__(
        self,
        registry: SessionRegistry,
        peer_ip: str,
        on_shutdown: ShutdownCallback,
        abort: ShutdownCallback,
    ):
        self._registry = registry
        self.peer_ip = peer_ip
        self._on_shutdown = on_shutdown
        self._abort = abort
        self._busy = 0
        self._released = False
        self._shutdown_sent = False
        self._logged_in = False

    @property
    def busy(self) -> bool:
        return self._busy > 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Mark a span the shutdown must not interrupt (receiving and storing a message)."""
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1
            if not self._busy and self._registry.shutting_down:
                self.request_shutdown()

    def logged_in(self) -> None:
        """The client authenticated: its slot no longer counts against the share of
        ``max_connections`` that connections not yet logged in may take."""
        if not self._logged_in and not self._released:
            self._logged_in = True
            self._registry._unauthenticated -= 1

    def set_shutdown_callback(self, on_shutdown: ShutdownCallback) -> None:
        """Hand the slot to the session that serves it (taken before a TLS handshake).

        A shutdown requested before the session took over is passed on to it now.
        """
        self._on_shutdown = on_shutdown
        if self._shutdown_sent and not self._released:
            self._shutdown_sent = False
            self.request_shutdown()

    def request_shutdown(self) -> None:
        """Ask the protocol to say goodbye and close; called at most once."""
        if self._shutdown_sent or self._released:
            return
        self._shutdown_sent = True
        try:
            self._on_shutdown()
        except Exception:  # a broken transport must not stop the others' shutdown
            log.exception("error while ending a session at shutdown")

    def abort(self) -> None:
        """Drop the connection without a goodbye: the last resort for a stalled client."""
        if self._released:
            return
        try:
            self._abort()
        except Exception:
            log.exception("error while dropping a session at shutdown")

    def release(self) -> None:
        """The session ended; frees its connection slot. Safe to call twice."""
        if not self._released:
            self._released = True
            if not self._logged_in:
                self._registry._unauthenticated -= 1
            self._registry._forget(self)


class SessionRegistry:
    """Counts sessions, refuses those over the limits, drains them at shutdown."""

    def __init__(self, max_total: int, max_per_ip: int, unauthenticated_share: float = 1.0) -> None:
        self.max_total = max_total
        self.max_per_ip = max_per_ip
        #: Connections not (yet) logged in may hold at most this many slots, so
        #: strangers trickling bytes cannot take every slot from users who log in.
        self.max_unauthenticated = max(1, int(max_total * unauthenticated_share))
        self._unauthenticated = 0
        self._sessions: set[SessionHandle] = set()
        self._per_ip: Counter[str] = Counter()
        self._empty = asyncio.Event()
        self._empty.set()
        self.shutting_down = False
        #: Caches and the C heap shrink once a burst of connections is over.
        self.quiet = QuietRelease()
        #: Each session's total time limit (``timeouts.*_session``), on one timer.
        self.deadlines = Deadlines()

    def __len__(self) -> int:
        return len(self._sessions)

    def open(
        self, peer_ip: str, on_shutdown: ShutdownCallback, abort: ShutdownCallback
    ) -> SessionHandle | None:
        """Admit a new connection, or return None when a limit is reached.

        A refused client should get its protocol's "too busy" reply
        (``421``, ``-ERR [SYS/TEMP]``, ``* BYE``) and be disconnected.
        ``on_shutdown`` asks the session to say goodbye when it next can;
        ``abort`` drops the connection at once, for a client that stalls
        mid-command (a half-sent literal, an unread reply) past the grace period.
        """
        if self.shutting_down:
            return None
        if len(self._sessions) >= self.max_total:
            log.warning("connection from %s refused: %d connections open", peer_ip, self.max_total)
            return None
        if self._per_ip[peer_ip] >= self.max_per_ip:
            log.warning("connection from %s refused: per-address limit reached", peer_ip)
            return None
        if self._unauthenticated >= self.max_unauthenticated:
            log.warning(
                "connection from %s refused: %d connections not logged in",
                peer_ip,
                self._unauthenticated,
            )
            return None
        handle = SessionHandle(self, peer_ip, on_shutdown, abort)
        self.quiet.activity()
        self._sessions.add(handle)
        self._per_ip[peer_ip] += 1
        self._unauthenticated += 1
        self._empty.clear()
        return handle

    def admit(
        self,
        peer_ip: str,
        on_shutdown: ShutdownCallback,
        abort: ShutdownCallback,
        admitted: SessionHandle | None,
    ) -> SessionHandle | None:
        """The slot for a session starting now: the one an implicit-TLS listener
        took before the handshake (``admitted``, handed over to this session),
        or a new one from :meth:`open`."""
        if admitted is None:
            return self.open(peer_ip, on_shutdown, abort)
        admitted.set_shutdown_callback(on_shutdown)
        return admitted

    def _forget(self, handle: SessionHandle) -> None:
        self._sessions.discard(handle)
        self._per_ip[handle.peer_ip] -= 1
        if self._per_ip[handle.peer_ip] <= 0:
            del self._per_ip[handle.peer_ip]
        if not self._sessions:
            self._empty.set()

    async def shutdown(self, grace: float) -> None:
        """End idle sessions now, busy ones when their transaction ends or ``grace`` expires.

        Whatever is still connected after that gets one more chance to say
        goodbye and is then cut off, so shutdown takes at most ``grace`` plus
        twice :data:`GOODBYE_TIMEOUT` however many clients have stalled.
        """
        self.shutting_down = True
        self.quiet.close()
        self.deadlines.close()
        for handle in list(self._sessions):
            if not handle.busy:
                handle.request_shutdown()
        await self._wait_empty(grace)
        for handle in list(self._sessions):
            handle._busy = 0
            handle.request_shutdown()
        await self._wait_empty(GOODBYE_TIMEOUT)
        for handle in list(self._sessions):
            handle.abort()
        await self._wait_empty(GOODBYE_TIMEOUT)

    async def _wait_empty(self, timeout: float) -> None:
        if self._sessions:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._empty.wait(), timeout)
