"""Helpers for IMAP tests against the real server process.

Mail is put in place with the real store, built from the server's config
the way the server builds it (quotas, the default folders of new accounts),
from the test process, exactly as another delivering process would; the
server must notice it on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import re
from collections.abc import Iterable, Iterator

import pytest

from mailserver.config import load_config
from mailserver.server import build_store
from mailserver.storage import INBOX, Snapshot
from mailserver.storage.maildir import MaildirStore
from tests.support.lines import LineClient
from tests.support.server import ServerProcess

LAB_MESSAGE = (
    b"Message-ID: <lab-1@JServer.NetLab>\r\n"
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
    b"From: nick <group6_6@JServer.NetLab>\r\n"
    b"To: group1_1@JServer.NetLab\r\n"
    b"Subject: Test mail 3\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"This is a multi-part message in MIME format.\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n'
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"This is a test mail!\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html; charset=gbk\r\n"
    b"\r\n"
    b"<p>This is a test mail!</p>\r\n"
    b"--inner--\r\n"
    b"--outer\r\n"
    b"Content-Type: application/octet-stream; name=notes.txt\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"Content-Disposition: attachment; filename=notes.txt\r\n"
    b"\r\n"
    b"aGVsbG8gd29ybGQK\r\n"
    b"--outer--\r\n"
)


#: ``LIST "" "*"`` for an account holding only what the server gives every new one.
DEFAULT_LIST = [
    b'* LIST (\\HasNoChildren) "/" INBOX\r\n',
    b'* LIST (\\HasNoChildren \\Archive) "/" Archive\r\n',
    b'* LIST (\\HasNoChildren \\Drafts) "/" Drafts\r\n',
    b'* LIST (\\HasNoChildren \\Junk) "/" Junk\r\n',
    b'* LIST (\\HasNoChildren \\Sent) "/" Sent\r\n',
    b'* LIST (\\HasNoChildren \\Trash) "/" Trash\r\n',
]


def make_message(number: int, body: bytes = b"", subject: str | None = None) -> bytes:
    subject = subject or f"Test mail {number}"
    head = (
        "From: nick <group1_2@JServer.NetLab>\r\n"
        "To: group1_1@JServer.NetLab\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: <{number}.test@JServer.NetLab>\r\n"
        "\r\n"
    ).encode()
    return head + (body or f"This is test mail number {number}!\r\n".encode())


def store_of(server: ServerProcess) -> MaildirStore:
    """The server's store as the server itself builds it from its config."""
    return build_store(load_config(server.config_path))


def deliver(
    server: ServerProcess,
    messages: Iterable[bytes],
    user: str = "group1_1",
    folder: str = INBOX,
    flags: Iterable[str] = (),
) -> list[int]:
    """Append messages through the store API from this process; returns their UIDs."""
    wanted = list(flags)

    async def run() -> list[int]:
        store = store_of(server)
        target = await (await store.mailbox(user)).folder(folder)
        return [await target.append(data, wanted) for data in messages]

    return asyncio.run(run())


def snapshot(server: ServerProcess, user: str = "group1_1", folder: str = INBOX) -> Snapshot:
    """What the store holds now, read as another process would."""

    async def run() -> Snapshot:
        store = store_of(server)
        return await (await (await store.mailbox(user)).folder(folder)).snapshot()

    return asyncio.run(run())


def folders(server: ServerProcess, user: str = "group1_1") -> set[str]:
    async def run() -> set[str]:
        store = store_of(server)
        return set(await (await store.mailbox(user)).list_folders())

    return asyncio.run(run())


class RawImap(LineClient):
    """Typed IMAP over a raw socket: reads whole responses, literals included."""

    _LITERAL = re.compile(rb"\{(\d+)\}\r\n$")

    def response_line(self) -> bytes:
        """One response line with any literals it carries, CRLF kept."""
        line = self.readline_bytes()
        while (match := self._LITERAL.search(line)) is not None:
            size = int(match.group(1))
            data = self.file.read(size)
            assert data is not None and len(data) == size
            line += data + self.readline_bytes()
        return line

    def command(self, line: str | bytes) -> list[bytes]:
        """Send a tagged command; returns every response line up to and including the tagged one."""
        data = line.encode() if isinstance(line, str) else line
        tag = data.split(b" ", 1)[0]
        self.send(data)
        return self.until_tagged(tag)

    def until_tagged(self, tag: bytes) -> list[bytes]:
        lines = []
        while True:
            line = self.response_line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def ok(self, line: str | bytes) -> list[bytes]:
        lines = self.command(line)
        tag = (line.encode() if isinstance(line, str) else line).split(b" ", 1)[0]
        assert lines[-1].startswith(tag + b" OK"), lines
        return lines[:-1]


@pytest.fixture
def raw_imap(mail_server: ServerProcess) -> Iterator[RawImap]:
    client = RawImap(mail_server.host, mail_server.ports["imap"])
    assert client.readline().startswith("* OK [CAPABILITY IMAP4rev1")
    yield client
    client.close()


def login(server: ServerProcess, user: str = "group1_1") -> imaplib.IMAP4:
    client = imaplib.IMAP4(server.host, server.ports["imap"], timeout=20)
    client.login(user, user)
    return client


@pytest.fixture
def imap(mail_server: ServerProcess) -> Iterator[imaplib.IMAP4]:
    client = login(mail_server)
    yield client
    with contextlib.suppress(imaplib.IMAP4.abort, OSError):
        client.logout()


@pytest.fixture(autouse=True)
def no_server_tracebacks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever a test does, the server must not have hit an unexpected exception."""
    yield
    for value in list(request.node.funcargs.values()):
        servers = [value] if isinstance(value, ServerProcess) else []
        for server in servers:
            log = server.log()
            assert "Traceback" not in log, log[-4000:]
