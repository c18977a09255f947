"""Issue 15: twenty clients downloading a 60 MiB message at once, over POP3 and IMAP.

RETR and FETCH BODY[] used to read the whole message into memory per
client. Now they stream from the file, so the server's RSS grows by a few
chunks per download, not by the message size.
"""

from __future__ import annotations

import asyncio

import pytest

from mailserver.auth import UserDatabase
from mailserver.config import load_config
from mailserver.storage import INBOX
from tests.support.memory import MIB, rss, sampling, settle
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow

CLIENTS = 20
SIZE = 60 * MIB
BOUND = 64 * MIB
AFTER = 24 * MIB
READERS = [f"reader{i}" for i in range(CLIENTS)]


def big_message() -> bytes:
    line = b"The quick brown fox jumps over the lazy dog, again and again.\r\n"
    return b"Subject: big\r\n\r\n" + line * (SIZE // len(line))


def set_up(server: ServerProcess) -> int:
    """One 60 MiB message in each reader's INBOX (hard links: stored once); its CRLF size."""
    config = load_config(server.config_path)
    UserDatabase(config.user_db_path).add_many(((u, u) for u in READERS), plain_secret=True)

    async def run() -> int:
        from mailserver.server import build_store

        store = build_store(config)
        first = await (await store.mailbox(READERS[0])).folder(INBOX)
        uid = await first.append(big_message())
        for user in READERS[1:]:
            await first.copy_to([uid], await (await store.mailbox(user)).folder(INBOX))
        return (await first.snapshot()).messages[0].size

    return asyncio.run(run())


async def pop3_download(server: ServerProcess, user: str) -> int:
    reader, writer = await asyncio.open_connection(server.host, server.ports["pop3"])
    await reader.readline()
    writer.write(f"USER {user}\r\nPASS {user}\r\nRETR 1\r\n".encode())
    for _ in range(3):
        assert (await reader.readline()).startswith(b"+OK")
    received = 0
    tail = b""
    while not tail.endswith(b"\r\n.\r\n"):
        chunk = await reader.read(1 << 20)
        assert chunk, "connection closed mid-message"
        received += len(chunk)
        tail = (tail + chunk)[-5:]
    writer.close()
    return received


async def imap_download(server: ServerProcess, user: str) -> int:
    reader, writer = await asyncio.open_connection(server.host, server.ports["imap"])
    await reader.readline()
    writer.write(f"a LOGIN {user} {user}\r\nb SELECT INBOX\r\nc FETCH 1 BODY.PEEK[]\r\n".encode())
    received = 0
    while True:
        line = await reader.readline()
        assert line, "connection closed"
        if line.startswith(b"* 1 FETCH") and line.endswith(b"}\r\n"):
            size = int(line[line.rindex(b"{") + 1 : -3])
            while received < size:
                chunk = await reader.read(min(1 << 20, size - received))
                assert chunk, "connection closed mid-literal"
                received += len(chunk)
        elif line.startswith(b"c "):
            assert line.startswith(b"c OK"), line
            break
    writer.close()
    return received


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
async def test_twenty_60_mib_downloads_stay_in_bounded_memory(
    mail_server: ServerProcess, protocol: str
) -> None:
    size = await asyncio.to_thread(set_up, mail_server)
    assert mail_server.process is not None
    pid = mail_server.process.pid
    download = pop3_download if protocol == "pop3" else imap_download
    baseline = rss(pid)
    async with sampling(pid) as peak:
        got = await asyncio.gather(*(download(mail_server, user) for user in READERS))
    expected = size + len(b".\r\n") if protocol == "pop3" else size
    assert got == [expected] * CLIENTS
    grown = peak.peak - baseline
    after = await settle(pid, baseline + AFTER) - baseline
    print(f"{protocol}: RSS +{grown / MIB:.1f} MiB peak, +{after / MIB:.1f} after")
    assert grown < BOUND, f"RSS grew by {grown / MIB:.0f} MiB during the downloads"
    assert after < AFTER
