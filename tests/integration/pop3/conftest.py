"""Helpers for POP3 tests against the real server process.

Messages are put in place with the real store (``MaildirStore`` on the
server's mail directory) from the test process: another process writing the
maildir is exactly what the server must cope with.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterable

import pytest

from mailserver.storage import INBOX, Snapshot
from mailserver.storage.maildir import MaildirStore
from tests.support.server import ServerProcess


def deliver(server: ServerProcess, user: str, messages: Iterable[bytes]) -> list[int]:
    """Append messages to the user's INBOX through the store API; returns their UIDs."""

    async def run() -> list[int]:
        store = MaildirStore(server.mail_dir)
        folder = await (await store.mailbox(user)).folder(INBOX)
        return [await folder.append(data) for data in messages]

    return asyncio.run(run())


def inbox(server: ServerProcess, user: str = "group1_1") -> Snapshot:
    """What the store holds now (read from a fresh store object, as another process would)."""

    async def run() -> Snapshot:
        store = MaildirStore(server.mail_dir)
        folder = await (await store.mailbox(user)).folder(INBOX)
        return await folder.snapshot()

    return asyncio.run(run())


def make_message(number: int, body: bytes = b"", subject: str | None = None) -> bytes:
    subject = subject or f"Test mail {number}"
    head = (
        f"From: nick <group1_2@JServer.NetLab>\r\n"
        f"To: group1_1@JServer.NetLab\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{number}.test@JServer.NetLab>\r\n"
        "\r\n"
    ).encode()
    return head + (body or f"This is test mail number {number}!\r\n".encode())


class RawPop3:
    """A byte-exact POP3 client over a plain socket, for transcripts and huge responses."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 20.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""

    def send(self, line: str | bytes) -> None:
        data = line.encode() if isinstance(line, str) else line
        self.sock.sendall(data + b"\r\n")

    def _fill(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("server closed the connection")
        self.buffer += chunk

    def line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            self._fill()
        line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
        return line

    def expect(self, pattern: str) -> str:
        """One reply line, matched as a regular expression over the whole line."""
        got = self.line().decode()
        assert re.fullmatch(pattern, got), f"expected {pattern!r}, got {got!r}"
        return got

    def multiline_raw(self) -> bytes:
        """Everything up to and including the terminating ``CRLF.CRLF``, still stuffed."""
        if self.buffer.startswith(b".\r\n"):
            self.buffer = self.buffer[3:]
            return b".\r\n"
        start = 0
        while (end := self.buffer.find(b"\r\n.\r\n", start)) < 0:
            start = max(0, len(self.buffer) - 4)
            self._fill()
        data, self.buffer = self.buffer[: end + 5], self.buffer[end + 5 :]
        return data

    def multiline(self) -> bytes:
        """The body of a multi-line response, un-stuffed, CRLF line ends kept."""
        raw = self.multiline_raw()
        if raw == b".\r\n":
            return b""
        body = raw[:-3]
        return b"\r\n".join(
            line[1:] if line.startswith(b".") else line for line in body.split(b"\r\n")
        )

    def closed(self) -> bool:
        if self.buffer:
            return False
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_pop3(mail_server: ServerProcess) -> Iterable[RawPop3]:
    client = RawPop3(mail_server.ports["pop3"])
    yield client
    client.close()
