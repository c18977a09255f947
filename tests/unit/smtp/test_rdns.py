"""Reverse DNS answers are reused: one resolver call per address, not per connection."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from mailserver.smtp import rdns


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    rdns.forget()
    yield
    rdns.forget()


async def answers(ip: str) -> list[str]:
    """Names delivered to the callback within a generous deadline."""
    got: list[str] = []
    done = asyncio.Event()

    def on_answer(name: str) -> None:
        got.append(name)
        done.set()

    rdns.lookup(ip, on_answer)
    await asyncio.wait_for(done.wait(), 10)
    return got


async def test_a_name_is_resolved_once_then_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    lock = threading.Lock()

    def getnameinfo(address: tuple[str, int], flags: int) -> tuple[str, str]:
        with lock:
            calls.append(address[0])
        return ("pc36.lab", "0")

    monkeypatch.setattr(socket, "getnameinfo", getnameinfo)
    assert await answers("172.16.0.36") == ["pc36.lab"]
    assert await answers("172.16.0.36") == ["pc36.lab"]
    assert calls == ["172.16.0.36"]


async def test_no_name_is_remembered_too(monkeypatch: pytest.MonkeyPatch) -> None:
    def getnameinfo(address: tuple[str, int], flags: int) -> tuple[str, str]:
        raise socket.gaierror(socket.EAI_NONAME, "no name")

    monkeypatch.setattr(socket, "getnameinfo", getnameinfo)
    rdns.lookup("10.0.0.9", lambda name: None)
    deadline = time.monotonic() + 10
    while "10.0.0.9" not in rdns._answers:
        assert time.monotonic() < deadline, "the lookup never finished"
        await asyncio.sleep(0.01)

    def no_thread(*args: object, **kwargs: object) -> None:
        raise AssertionError("a remembered address must not be looked up again")

    monkeypatch.setattr(rdns.threading, "Thread", no_thread)
    rdns.lookup("10.0.0.9", lambda name: pytest.fail("no name was found"))
    assert rdns._answers["10.0.0.9"][1] is None


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rdns, "CACHE_SIZE", 3)
    for n in range(10):
        rdns._remember(f"10.0.0.{n}", None)
    assert list(rdns._answers) == ["10.0.0.7", "10.0.0.8", "10.0.0.9"]
