"""Issue 15: a client trickling one byte a second is idle, on every protocol.

Before, every byte restarted SMTP's idle timer, so a trickle survived ten
idle timeouts (the session cap) and a few addresses could hold every slot
for most of an hour. Now the idle timeout is also the deadline for a whole
command line (and DATA must keep up ``limits.min_data_rate``), and while a
hundred trickling connections are open a new client still logs in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from tests.support.server import ServerProcess

TRICKLERS = 100
TIMEOUT = 2.0
#: Well under the old SMTP survival (ten idle timeouts), well over one timeout.
DROPPED_WITHIN = 12.0
LOGIN = {
    "smtp": ([b"EHLO pc\r\n", b"NOOP\r\n"], b"250 2.0.0"),
    "pop3": ([b"USER group1_1\r\n", b"PASS group1_1\r\n", b"NOOP\r\n"], b"+OK\r\n"),
    "imap": ([b"a LOGIN group1_1 group1_1\r\n"], b"a OK"),
}


async def trickle(server: ServerProcess, protocol: str) -> float:
    """Seconds until the server hangs up on a client sending a byte a second."""
    reader, writer = await asyncio.open_connection(server.host, server.ports[protocol])
    started = time.monotonic()
    try:
        while time.monotonic() - started < 60:
            writer.write(b"N")
            try:
                data = await asyncio.wait_for(reader.read(4096), 1.0)
            except TimeoutError:
                continue
            while data:  # the greeting, then the goodbye: read until closed
                data = await reader.read(4096)
            return time.monotonic() - started
    except ConnectionError:
        return time.monotonic() - started
    finally:
        writer.close()
    return 60.0


async def log_in(server: ServerProcess, protocol: str) -> float:
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(server.host, server.ports[protocol])
    await asyncio.wait_for(reader.readline(), 10)
    lines, done = LOGIN[protocol]
    for line in lines:
        writer.write(line)
    while not (reply := await asyncio.wait_for(reader.readline(), 10)).startswith(done):
        assert reply and not reply.startswith((b"-ERR", b"5", b"a NO", b"a BAD")), reply
    writer.close()
    return time.monotonic() - started


@pytest.mark.parametrize("protocol", ["smtp", "pop3", "imap"])
async def test_tricklers_are_dropped_and_others_still_log_in(
    server_factory: Callable[..., ServerProcess], protocol: str
) -> None:
    server = server_factory(
        listeners={protocol: "127.0.0.1:0"},
        timeouts={protocol: TIMEOUT},
        limits={"max_connections_per_ip": 1000},
    )
    tricklers = [asyncio.create_task(trickle(server, protocol)) for _ in range(TRICKLERS)]
    await asyncio.sleep(0.5)
    assert await log_in(server, protocol) < 5.0
    lasted = await asyncio.gather(*tricklers)
    assert max(lasted) < DROPPED_WITHIN, sorted(lasted)[-5:]
    assert min(lasted) > TIMEOUT * 0.5
