"""Many far-off deadlines on one event-loop timer.

Every session has a total time limit (``timeouts.*_session``, an hour or a
day), and almost every session ends long before it. One ``call_later`` per
session costs ~500 octets (timer handle, its libuv timer, the heap entry):
5 MB for 10,000 idle IMAP sessions. Here a deadline is a small list in a
heap, and the loop holds one timer, for the earliest. Cancelled entries are
dropped lazily, and the heap is rebuilt when they are more than half of it,
so thousands of short POP3/SMTP sessions an hour do not pile up.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable

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
        if self._entry[2] is not None:
            self._entry[2] = None
            self._owner._cancelled += 1
            self._owner._compact()


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
        loop = asyncio.get_running_loop()
        entry: _Entry = [loop.time() + delay, next(self._sequence), callback]
        heapq.heappush(self._heap, entry)
        if self._timer is None or entry[0] < self._timer_at:
            self._arm(loop)
        return Deadline(self, entry)

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
