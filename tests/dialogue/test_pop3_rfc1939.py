"""RFC 1939's example session (section 10), replayed against a real maildir store.

The POP3 listener runs in this process on 127.0.0.1:0 with a real
MaildirStore and a real user database in ``tmp_path``; the transcript reads
like the RFC. ``Pop3Lab`` and the ``pop3_lab`` fixture are shared with the
other POP3 dialogue files.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mailserver.net.tls import certificate_paths, server_context, write_self_signed
from mailserver.pop3.listener import start_listener
from mailserver.storage import INBOX, Snapshot
from mailserver.storage.maildir import MaildirStore
from tests.support import inprocess
from tests.support.inprocess import HOST, REPLY_TIMEOUT, Lab, LabPool, lab_users

LAB_USERS = ("group1_1", "group1_2", "group1_3")


class Dialogue(inprocess.Dialogue):
    """A POP3 client connection: the greeting, dot-terminated blocks, STLS."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        super().__init__(reader, writer)
        self.greeting = ""

    async def multiline(self) -> list[bytes]:
        """The lines of a dot-terminated block, un-stuffed, without the final dot."""
        lines = []
        while (line := await self.line_bytes()) != b".":
            lines.append(line[1:] if line.startswith(b".") else line)
        return lines

    async def starttls(self, context: ssl.SSLContext) -> None:
        """The client side of the handshake that follows ``+OK`` to STLS."""
        await asyncio.wait_for(self.writer.start_tls(context, server_hostname=HOST), REPLY_TIMEOUT)


@dataclass
class Pop3Lab(Lab):
    """An in-process POP3 listener over a real store and user database."""

    #: The self-signed certificate of a lab started with ``starttls=True``.
    certificate: Path | None = None

    def client_tls_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly this lab's certificate."""
        assert self.certificate is not None, "start the lab with starttls=True"
        return ssl.create_default_context(cafile=str(self.certificate))

    async def connect(self, greet: bool = True) -> Dialogue:
        dialogue = await self.open(Dialogue)
        if greet:
            dialogue.greeting = await dialogue.expect("+OK POP3 server ready <*@JServer.NetLab>")
        return dialogue

    async def login(self, user: str = "group1_1") -> Dialogue:
        dialogue = await self.connect()
        await dialogue.send(f"USER {user}")
        await dialogue.expect("+OK*")
        await dialogue.send(f"PASS {user}")
        await dialogue.expect("+OK *")
        return dialogue

    async def deliver(self, user: str, data: bytes, flags: tuple[str, ...] = ()) -> int:
        folder = await (await self.store.mailbox(user)).folder(INBOX)
        return await folder.append(data, flags)

    async def inbox(self, user: str = "group1_1") -> Snapshot:
        folder = await (await self.store.mailbox(user)).folder(INBOX)
        return await folder.snapshot()


LabFactory = Callable[..., Awaitable[Pop3Lab]]


@pytest.fixture
async def lab_factory(tmp_path: Path) -> AsyncIterator[LabFactory]:
    """Start labs with config overrides (``auth=...``, ``limits=...``); ``starttls`` adds STLS."""
    pool = LabPool(tmp_path)

    async def start(*, starttls: bool = False, **overrides: Any) -> Pop3Lab:
        config = pool.config("pop3", overrides)
        plain = [(name, name) for name in LAB_USERS] + [("mrose", "tanstaaf")]
        users = lab_users(config, plain, hashed=[("bob", "bob-secret-pw")])
        store = MaildirStore(config.mail_dir)
        tls: ssl.SSLContext | None = None
        certificate: Path | None = None
        if starttls:
            paths = certificate_paths(config)
            write_self_signed(paths, HOST, ())
            tls = server_context(paths)
            certificate = paths.certificate
        lab = await pool.start(
            Pop3Lab, config, store, users, start_listener, listener="pop3", starttls_context=tls
        )
        lab.certificate = certificate
        return lab

    yield start
    await pool.close()


@pytest.fixture
async def pop3_lab(lab_factory: LabFactory) -> Pop3Lab:
    return await lab_factory()


def message_of_size(size: int, subject: str) -> bytes:
    """A message of exactly ``size`` octets with CRLF line ends."""
    head = f"From: dewey@dbc.mtview.ca.us\r\nSubject: {subject}\r\n\r\n".encode()
    body_len = size - len(head) - 2
    assert body_len >= 0
    return head + b"x" * body_len + b"\r\n"


async def test_rfc1939_example_session(pop3_lab: Pop3Lab) -> None:
    first = message_of_size(120, "first")
    second = message_of_size(200, "second")
    await pop3_lab.deliver("mrose", first)
    await pop3_lab.deliver("mrose", second)

    pop3 = await pop3_lab.connect()
    banner = re.search(r"<[^>]+>", pop3.greeting)
    assert banner is not None
    digest = hashlib.md5((banner.group(0) + "tanstaaf").encode()).hexdigest()

    await pop3.play(
        f"""
        C: APOP mrose {digest}
        S: +OK 2 messages (320 octets)
        C: STAT
        S: +OK 2 320
        C: LIST
        S: +OK 2 messages (320 octets)
        S: 1 120
        S: 2 200
        S: .
        C: RETR 1
        S: +OK 120 octets
        """
    )
    assert await pop3.multiline() == first.split(b"\r\n")[:-1]
    await pop3.play(
        """
        C: DELE 1
        S: +OK message 1 deleted
        C: RETR 2
        S: +OK 200 octets
        """
    )
    assert await pop3.multiline() == second.split(b"\r\n")[:-1]
    await pop3.play(
        """
        C: DELE 2
        S: +OK message 2 deleted
        C: QUIT
        S: +OK*
        """
    )
    assert await pop3.closed()
    assert (await pop3_lab.inbox("mrose")).messages == ()


async def test_apop_with_the_rfc_banner_digest_is_refused(pop3_lab: Pop3Lab) -> None:
    """The RFC's digest belongs to the RFC's banner; ours differs per connection."""
    pop3 = await pop3_lab.connect()
    await pop3.play(
        """
        C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
        S: -ERR [AUTH] authentication failed
        C: QUIT
        S: +OK
        """
    )


async def test_banners_are_unique_per_connection(pop3_lab: Pop3Lab) -> None:
    one = await pop3_lab.connect()
    two = await pop3_lab.connect()
    assert one.greeting != two.greeting
