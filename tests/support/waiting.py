"""Waiting for a condition in an async test: polled, with a generous deadline
(a loaded 2-core machine), never a bare sleep as synchronisation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(predicate: Callable[[], object], seconds: float = 10.0) -> None:
    """Return once ``predicate()`` is true; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)
