"""Issue 15: twenty clients each uploading 60 MiB and never finishing, over SMTP and IMAP.

Before streaming the server held every upload in memory: +1,202 MiB for
twenty unfinished DATA or APPEND literals, still held after the clients
left. Now each upload is a few buffers and a spool file, so the server's
RSS (read from ``/proc``, as ``ps`` would) stays within a small bound while
the uploads are open and returns when they close; a second round does not
ratchet it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable

import pytest

from tests.support.memory import MIB, rss, sampling, settle
from tests.support.server import ServerProcess
from tests.support.waiting import until

pytestmark = pytest.mark.slow

CLIENTS = 20
#: Growth allowed over the idle server, all twenty uploads together.
BOUND = 64 * MIB
#: What the process may keep once the clients have gone (allocator slack).
AFTER = 24 * MIB
BLOCK = b"".join(b"%07d The quick brown fox jumps over the lazy dog.\r\n" % i for i in range(16384))


async def start_smtp(server: ServerProcess, size: int) -> asyncio.StreamWriter:
    reader, writer = await asyncio.open_connection(server.host, server.ports["smtp"])
    writer.write(
        b"EHLO pc\r\nMAIL FROM:<group1_1@JServer.NetLab>\r\n"
        b"RCPT TO:<group1_2@JServer.NetLab>\r\nDATA\r\n"
    )
    while not (await reader.readline()).startswith(b"354"):
        pass
    writer.write(b"Subject: never ends\r\n\r\n")
    return writer


async def start_imap(server: ServerProcess, size: int) -> asyncio.StreamWriter:
    reader, writer = await asyncio.open_connection(server.host, server.ports["imap"])
    writer.write(b"a LOGIN group1_1 group1_1\r\nb APPEND INBOX {%d}\r\n" % size)
    while not (await reader.readline()).startswith(b"+"):
        pass
    writer.write(b"Subject: never ends\r\n\r\n")
    return writer


async def unfinished_upload(
    server: ServerProcess, protocol: str, size: int
) -> asyncio.StreamWriter:
    """Send a little over ``size`` octets of a message announced as longer still."""
    start = start_smtp if protocol == "smtp" else start_imap
    blocks = -(-size // len(BLOCK))
    writer = await start(server, blocks * len(BLOCK) + 1000)
    for _ in range(blocks):
        writer.write(BLOCK)
        await writer.drain()
    return writer


def spooled(server: ServerProcess) -> int:
    spool = server.data_dir / "spool"
    if not spool.exists():
        return 0
    total = 0
    for entry in os.scandir(spool):
        # The server removes files while we look: one listed may be gone by its stat.
        with contextlib.suppress(FileNotFoundError):
            total += entry.stat().st_size
    return total


async def one_round(
    server: ServerProcess, protocol: str, size: int, baseline: int
) -> tuple[int, int]:
    assert server.process is not None
    pid = server.process.pid
    async with sampling(pid) as peak:
        writers = await asyncio.gather(
            *(unfinished_upload(server, protocol, size) for _ in range(CLIENTS))
        )
        # The server has taken (nearly) all of it once the spool holds it.
        await until(lambda: spooled(server) >= CLIENTS * size * 0.95, 120, "the spool")
    for writer in writers:
        writer.close()
    await until(lambda: spooled(server) == 0, 30, "spool clean-up after close")
    after = await settle(pid, baseline + AFTER)
    return peak.peak - baseline, after - baseline


@pytest.mark.parametrize("protocol", ["smtp", "imap"])
async def test_unfinished_60_mib_uploads_stay_in_bounded_memory(
    server_factory: Callable[..., ServerProcess], protocol: str
) -> None:
    server = server_factory(listeners={protocol: "127.0.0.1:0"})
    assert server.process is not None
    baseline = rss(server.process.pid)
    grown, kept = await one_round(server, protocol, 60 * MIB, baseline)
    assert grown < BOUND, f"RSS grew by {grown / MIB:.0f} MiB during the uploads"
    assert kept < AFTER, f"RSS stayed {kept / MIB:.0f} MiB up after the clients left"
    # A second, shorter round: what the first left behind is reused, not added to.
    grown2, kept2 = await one_round(server, protocol, 20 * MIB, baseline)
    assert grown2 < BOUND and kept2 < AFTER, (grown2 / MIB, kept2 / MIB)
    peaks = f"+{grown / MIB:.1f} / +{grown2 / MIB:.1f} MiB peak"
    print(f"{protocol}: RSS {peaks}, +{kept2 / MIB:.1f} after")
