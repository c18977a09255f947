"""Deadlines: many session time limits on one loop timer."""

from __future__ import annotations

import asyncio
import time

from mailserver.net.deadlines import Deadlines, IdleTimeout
from tests.support.waiting import until


async def test_deadlines_fire_in_order_and_not_early() -> None:
    deadlines = Deadlines()
    fired: list[tuple[str, float]] = []
    start = asyncio.get_running_loop().time()
    for name, delay in [("c", 0.3), ("a", 0.1), ("b", 0.2)]:
        deadlines.call_later(
            delay, lambda name=name: fired.append((name, asyncio.get_running_loop().time()))
        )  # type: ignore[misc]
    await until(lambda: len(fired) == 3)
    assert [name for name, _ in fired] == ["a", "b", "c"]
    for (_, at), delay in zip(fired, (0.1, 0.2, 0.3), strict=True):
        assert at - start >= delay - 0.005
    assert len(deadlines) == 0


async def test_a_cancelled_deadline_never_fires_and_an_earlier_one_rearms() -> None:
    deadlines = Deadlines()
    fired: list[str] = []
    late = deadlines.call_later(0.2, lambda: fired.append("late"))
    deadlines.call_later(0.05, lambda: fired.append("early"))  # earlier than the armed timer
    late.cancel()
    late.cancel()  # twice is harmless
    assert len(deadlines) == 1
    await until(lambda: fired)
    await asyncio.sleep(0.3)
    assert fired == ["early"]


async def test_cancelled_entries_do_not_pile_up() -> None:
    """Thousands of short sessions with an hour's limit each: the heap stays small."""
    deadlines = Deadlines()
    for _ in range(10_000):
        deadlines.call_later(3600, lambda: None).cancel()
    assert len(deadlines) == 0
    assert len(deadlines._heap) <= 200
    deadlines.close()


async def test_a_failing_callback_does_not_stop_the_others() -> None:
    deadlines = Deadlines()
    fired: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    deadlines.call_later(0.01, broken)
    deadlines.call_later(0.02, lambda: fired.append("after"))
    await until(lambda: fired)


async def test_idle_timeout_expires_a_read_as_timeout_error_and_the_task_goes_on() -> None:
    deadlines = Deadlines()
    idle = IdleTimeout(deadlines, 0.1)
    started = time.monotonic()
    try:
        async with idle:
            await asyncio.Event().wait()
    except TimeoutError:
        pass
    else:
        raise AssertionError("no TimeoutError")
    assert time.monotonic() - started >= 0.09
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0, "the cancellation was taken back"
    await asyncio.sleep(0)  # not cancelled any more
    idle.close()
    deadlines.close()


async def test_idle_timeout_counts_from_the_start_of_each_read_on_one_entry() -> None:
    """Reads shorter than the timeout, one after another for longer than it: none
    expires, and the session never has more than one entry in the heap."""
    deadlines = Deadlines()
    idle = IdleTimeout(deadlines, 0.2)
    started = time.monotonic()
    while time.monotonic() - started < 0.5:
        async with idle:
            await asyncio.sleep(0.05)
            assert len(deadlines) <= 1
    # Between reads nothing is timed: a slow command is not an idle client.
    await asyncio.sleep(0.3)
    async with idle:
        await asyncio.sleep(0.05)
    assert len(deadlines) == 1
    idle.close()
    assert len(deadlines) == 0
    deadlines.close()


async def test_idle_timeout_leaves_a_cancel_from_outside_a_cancel() -> None:
    deadlines = Deadlines()
    idle = IdleTimeout(deadlines, 3600)
    entered = asyncio.Event()

    async def reader() -> None:
        async with idle:
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.ensure_future(reader())
    await entered.wait()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("the outside cancel was swallowed")
    assert task.cancelled()
    idle.close()
    assert len(deadlines) == 0
    deadlines.close()
