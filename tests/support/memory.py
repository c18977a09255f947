"""A server process's memory, read the way ``ps`` does (``/proc/<pid>/status``)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

MIB = 1024 * 1024


def rss(pid: int) -> int:
    """Resident set size in octets (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class PeakRss:
    """The highest RSS seen while sampling every ``interval`` seconds."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss(pid)


@contextlib.asynccontextmanager
async def sampling(pid: int, interval: float = 0.05) -> AsyncIterator[PeakRss]:
    """Sample the process's RSS in the background for the duration of the block."""
    peak = PeakRss(pid)

    async def sample() -> None:
        while True:
            peak.peak = max(peak.peak, rss(pid))
            await asyncio.sleep(interval)

    task = asyncio.create_task(sample())
    try:
        yield peak
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        peak.peak = max(peak.peak, rss(pid))


async def settle(pid: int, below: int, seconds: float = 20.0) -> int:
    """Wait until the RSS drops below ``below`` octets (or give up); returns the last value."""
    deadline = time.monotonic() + seconds
    value = rss(pid)
    while value >= below and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        value = rss(pid)
    return value
