"""Waiting for a condition in an async test: polled, with a generous deadline
(a loaded 2-core machine), never a bare sleep as synchronisation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(
    predicate: Callable[[], object], seconds: float = 10.0, what: str = "the condition"
) -> None:
    """Return once ``predicate()`` is true; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
