"""Give memory back when a burst of connections is over.

A busy minute (thousands of short POP3 and SMTP sessions, IMAP FETCHes of
whole messages) leaves the C allocator holding freed memory it does not
return to the kernel by itself, and the parse caches holding messages nobody
asks for any more; a server that then sits with 10,000 idle IMAP sessions
paid for both. :class:`QuietRelease` notices when new connections have
stopped arriving for :data:`QUIET_AFTER` seconds and runs the release hooks
once (caches drop what they can rebuild, then ``malloc_trim``), without a
timer of its own while nothing happens.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Seconds without a new connection after which a burst counts as over.
QUIET_AFTER = 2.0

ReleaseHook = Callable[[], None]


def _malloc_trim() -> Callable[[], None] | None:
    """glibc's ``malloc_trim(0)``: hands freed heap pages back to the kernel."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc (musl, macOS): nothing to trim this way
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int

    def run() -> None:
        trim(0)

    return run


class QuietRelease:
    """Runs release hooks once after each burst of activity (see the module doc)."""

    def __init__(self, quiet_after: float = QUIET_AFTER, trim: bool = True) -> None:
        self.quiet_after = quiet_after
        self.hooks: list[ReleaseHook] = []
        self._trim = _malloc_trim() if trim else None
        self._activity = 0
        self._seen = 0
        self._timer: asyncio.TimerHandle | None = None
        #: How many times the hooks ran (for tests and the log).
        self.releases = 0

    def add_hook(self, hook: ReleaseHook) -> None:
        if hook not in self.hooks:
            self.hooks.append(hook)

    def activity(self) -> None:
        """Something happened (a connection arrived): release after the next quiet spell."""
        self._activity += 1
        if self._timer is None:
            self._arm()

    def _arm(self) -> None:
        self._seen = self._activity
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(self.quiet_after, self._check)

    def _check(self) -> None:
        self._timer = None
        if self._activity != self._seen:
            self._arm()  # still busy: look again later
            return
        self.release()

    def release(self) -> None:
        """Run every hook now, then trim the C heap."""
        self.releases += 1
        for hook in self.hooks:
            try:
                hook()
            except Exception:
                log.exception("memory release hook failed")
        if self._trim is not None:
            self._trim()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
