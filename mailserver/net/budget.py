"""One cap on the memory that uploads in progress hold, across all connections.

Streaming keeps each upload to a few buffers (a socket read, a write batch,
the header section), but a few buffers times 500 connections is still a
lot for a lab PC. Every upload takes its share of :class:`MemoryBudget`
before it starts; when none is left the protocol answers with a temporary
error (SMTP ``452 4.3.1``, IMAP ``NO [UNAVAILABLE]``) and the client retries
later, instead of the process growing until the kernel kills it.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class Reservation:
    """Octets taken from a budget; :meth:`release` (idempotent) gives them back."""

    def __init__(self, budget: MemoryBudget, octets: int) -> None:
        self._budget: MemoryBudget | None = budget
        self.octets = octets

    def release(self) -> None:
        budget, self._budget = self._budget, None
        if budget is not None:
            budget.in_use -= self.octets

    def __enter__(self) -> Reservation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class MemoryBudget:
    """A counter, not an allocator: callers promise to stay within what they reserved."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self.refused = 0

    def reserve(self, octets: int) -> Reservation | None:
        """Take ``octets`` (None when they do not fit: the caller refuses, temporarily)."""
        if self.in_use + octets > self.limit:
            self.refused += 1
            if self.refused == 1 or self.refused % 100 == 0:
                log.warning(
                    "upload memory budget exhausted (%d of %d octets in use): "
                    "new uploads get a temporary error (%d so far)",
                    self.in_use,
                    self.limit,
                    self.refused,
                )
            return None
        self.in_use += octets
        return Reservation(self, octets)
