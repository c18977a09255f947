"""QuietRelease: the release hooks run once after a burst, never during one."""

from __future__ import annotations

import asyncio
import time

from mailserver.imap.mime import cache
from mailserver.net.memory import QuietRelease
from mailserver.net.sessions import SessionRegistry
from tests.support.waiting import until


async def test_hooks_run_once_after_the_burst_is_over() -> None:
    quiet = QuietRelease(quiet_after=1.0)
    calls: list[float] = []
    hook = lambda: calls.append(time.monotonic())  # noqa: E731
    quiet.add_hook(hook)
    quiet.add_hook(hook)  # a listener started twice registers once
    started = time.monotonic()
    last = started
    while time.monotonic() - started < 1.5:  # a burst longer than the quiet spell
        quiet.activity()
        last = time.monotonic()
        await asyncio.sleep(0.02)
        assert not calls, "released in the middle of a burst"
    await until(lambda: calls)
    assert len(calls) == 1
    assert calls[0] - last >= 1.0 - 0.01
    assert quiet.releases == 1
    await asyncio.sleep(0.5)  # no activity, no timer, no second release
    assert quiet.releases == 1
    quiet.activity()
    await until(lambda: quiet.releases == 2)


async def test_a_failing_hook_does_not_stop_the_others() -> None:
    quiet = QuietRelease(quiet_after=0.01, trim=False)
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("boom")

    quiet.add_hook(broken)
    quiet.add_hook(lambda: ran.append("second"))
    quiet.release()
    assert ran == ["second"]


async def test_the_registry_reports_new_sessions_and_stops_at_shutdown() -> None:
    registry = SessionRegistry(10, 10)
    registry.quiet.quiet_after = 0.05
    released: list[int] = []
    registry.quiet.add_hook(lambda: released.append(1))
    handle = registry.open("127.0.0.1", lambda: None, lambda: None)
    assert handle is not None
    await until(lambda: released)
    handle.release()
    registry.open("127.0.0.1", lambda: None, lambda: None)
    await registry.shutdown(0.01)
    await asyncio.sleep(0.2)
    assert released == [1]  # the timer armed by the second session was cancelled


def test_release_idle_keeps_only_the_most_recent_parsed_messages() -> None:
    lru = cache._Lru(100, 10_000)
    for key in range(50):
        lru.put(key, f"value {key}", 10)
    lru.shrink(5)
    assert len(lru) == 5 and lru.weight == 50
    assert [lru.get(key) for key in range(45, 50)] == [f"value {k}" for k in range(45, 50)]
    assert lru.get(0) is None
    cache._raw.put(("t", 1), b"x", 1)
    cache.release_idle()
    assert len(cache._raw) == 0 and cache._raw.weight == 0
    assert len(cache._parsed) <= cache.KEEP_WHEN_IDLE
