"""Cut off clients that loop: the same SELECT over and over, or a stream of invalid
commands with the odd valid one in between (which resets the consecutive-BAD
count). Either would otherwise keep a core busy for nothing."""

from __future__ import annotations

import time
from collections.abc import Callable

#: More than this many SELECT/EXAMINEs of one folder within the window ends the session.
SELECT_LOOP_LIMIT = 30
SELECT_LOOP_WINDOW = 10.0
#: Invalid commands allowed per window, as a multiple of ``limits.max_bad_commands``.
BAD_RATE_FACTOR = 3
BAD_RATE_WINDOW = 60.0


class BurstGuard:
    """Counts events of one kind; :meth:`hit` says when more than ``limit`` fell in ``window``.

    A different ``key`` starts the count afresh, so a client walking through
    its folders is never mistaken for one stuck on a single folder.
    """

    __slots__ = ("_clock", "_key", "_times", "limit", "window")

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = max(1, limit)
        self.window = window
        self._clock = clock
        self._key: object = None
        #: The last ``limit + 1`` times, oldest first. A short list, made on the first
        #: hit: every idle IMAP session has two guards, and an empty ``deque`` costs
        #: 600 octets each (10,000 sessions: 12 MB for nothing).
        self._times: list[float] | None = None

    def hit(self, key: object = None) -> bool:
        times = self._times
        if times is None:
            times = self._times = []
        if key != self._key:
            self._key = key
            times.clear()
        now = self._clock()
        times.append(now)
        if len(times) > self.limit + 1:
            del times[0]
        return len(times) > self.limit and now - times[0] <= self.window
