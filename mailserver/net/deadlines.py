"""Many far-off deadlines on one event-loop timer.

Every session has a total time limit (``timeouts.*_session``, an hour or a
day), and almost every session ends long before it. One ``call_later`` per
session costs ~500 octets (timer handle, its libuv timer, the heap entry):
5 MB for 10,000 idle IMAP sessions. Here a deadline is a small list in a
heap, and the loop holds one timer, for the earliest. Cancelled entries are
dropped lazily, and the heap is rebuilt when they are more than half of it,
so thousands of short POP3/SMTP sessions an hour do not pile up.

:class:`IdleTimeout` is ``asyncio.timeout`` for the reads of one session
on the same heap: an idle IMAP session waits for its next command under
the idle timeout, and ``asyncio.timeout``'s timer for that wait was ~650
octets a session (its own loop timer, handle and context object, made anew
for every read). Here a session has one heap entry, re-armed lazily.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger(__name__)

#: [when, sequence, callback or None once cancelled or run]
_Entry = list


class Deadline:
    """A handle to cancel one deadline (like ``asyncio.TimerHandle.cancel``)."""

    __slots__ = ("_entry", "_owner")

    def __init__(self, owner: Deadlines, entry: _Entry) -> None:
        self._owner = owner
        self._entry = entry

    def cancel(self) -> None:
        self._owner._cancel(self._entry)


class Deadlines:
    """Callbacks due at loop times, fired from one timer for the earliest of them."""

    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._sequence = itertools.count()
        self._cancelled = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def __len__(self) -> int:
        """Deadlines still pending."""
        return len(self._heap) - self._cancelled

    def call_later(self, delay: float, callback: Callable[[], object]) -> Deadline:
        return Deadline(self, self._push(delay, callback))

    def _push(self, delay: float, callback: Callable[[], object]) -> _Entry:
        loop = asyncio.get_running_loop()
        entry: _Entry = [loop.time() + delay, next(self._sequence), callback]
        heapq.heappush(self._heap, entry)
        if self._timer is None or entry[0] < self._timer_at:
            self._arm(loop)
        return entry

    def _cancel(self, entry: _Entry) -> None:
        if entry[2] is not None:
            entry[2] = None
            self._cancelled += 1
            self._compact()

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._heap and self._heap[0][2] is None:
            heapq.heappop(self._heap)
            self._cancelled -= 1
        if self._heap:
            self._timer_at = self._heap[0][0]
            self._timer = loop.call_at(self._timer_at, self._fire)

    def _fire(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._heap and self._heap[0][0] <= now:
            entry = heapq.heappop(self._heap)
            callback, entry[2] = entry[2], None
            if callback is None:
                self._cancelled -= 1
                continue
            try:
                callback()
            except Exception:
                log.exception("deadline callback failed")
        self._arm(loop)

    def _compact(self) -> None:
        if self._cancelled > 64 and self._cancelled * 2 > len(self._heap):
            self._heap = [entry for entry in self._heap if entry[2] is not None]
            heapq.heapify(self._heap)
            self._cancelled = 0

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class IdleTimeout:
    """``async with idle:`` around each read of one session: ``asyncio.timeout(delay)``
    for each, on one entry of a :class:`Deadlines` heap for all of them.

    Entering a read notes the time; the entry is not moved at every read but,
    when it comes due, checks whether the read waiting now began ``delay`` ago
    and, if not, puts itself back for the rest (no read waiting: it goes, and
    the next read makes a new one). When the time is up the task is cancelled,
    and leaving the block turns that cancellation (only that one, not one from
    outside) into ``TimeoutError``, with ``asyncio.Timeout``'s bookkeeping of
    ``Task.cancelling()``. :meth:`close` at the end of the session drops the entry.
    Reads of one session never overlap (one stream, one reader at a time).
    """

    __slots__ = ("_cancelling", "_deadlines", "_delay", "_entry", "_expired", "_since", "_task")

    def __init__(self, deadlines: Deadlines, delay: float) -> None:
        self._deadlines = deadlines
        self._delay = delay
        self._entry: _Entry | None = None
        self._task: asyncio.Task[object] | None = None
        self._since = 0.0
        self._expired = False
        self._cancelling = 0

    async def __aenter__(self) -> IdleTimeout:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("IdleTimeout should be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._expired = False
        self._since = asyncio.get_running_loop().time()
        if self._entry is None or self._entry[2] is None:
            # The entry's callback is this object (no bound method kept per session).
            self._entry = self._deadlines._push(self._delay, self)
        return self

    def __call__(self) -> None:
        """The entry came due."""
        self._entry = None
        task = self._task
        if task is None:
            return  # no read waiting; the next one makes a new entry
        left = self._since + self._delay - asyncio.get_running_loop().time()
        if left > 0:
            self._entry = self._deadlines._push(left, self)
            return
        self._expired = True
        task.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        task, self._task = self._task, None
        # Taken back whenever it expired (uncancel), a TimeoutError only for our own cancel.
        if (
            self._expired
            and task is not None
            and task.uncancel() <= self._cancelling
            and exc_type is asyncio.CancelledError
        ):
            raise TimeoutError from exc

    def close(self) -> None:
        """The session is over: its entry leaves the heap (at the next compaction)."""
        self._task = None
        if self._entry is not None:
            self._deadlines._cancel(self._entry)
            self._entry = None
