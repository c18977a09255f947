"""Cut off clients that loop: the same SELECT over and over, or a stream of invalid
commands with the odd valid one in between (which resets the consecutive-BAD
count). Either would otherwise keep a core busy for nothing."""

from __future__ import annotations

import time
from collections import deque
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

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = max(1, limit)
        self.window = window
        self._clock = clock
        self._key: object = None
        self._times: deque[float] = deque(maxlen=self.limit + 1)

    def hit(self, key: object = None) -> bool:
        if key != self._key:
            self._key = key
            self._times.clear()
        now = self._clock()
        self._times.append(now)
        return len(self._times) > self.limit and now - self._times[0] <= self.window
