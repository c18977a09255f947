"""RFC 1939's example session (section 10), replayed against a real maildir store.

The POP3 listener runs in this process on 127.0.0.1:0 with a real
MaildirStore and a real user database in ``tmp_path``; the transcript reads
like the RFC. ``Pop3Lab`` and the ``pop3_lab`` fixture are shared with the
other POP3 dialogue files.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from mailserver.auth import Authenticator, UserDatabase
from mailserver.config import Config, ListenAddress
from mailserver.listeners import ListenerContext
from mailserver.net.sessions import SessionRegistry
from mailserver.net.tls import certificate_paths, server_context, write_self_signed
from mailserver.pop3.listener import start_listener
from mailserver.services import Services
from mailserver.storage import INBOX, Snapshot
from mailserver.storage.maildir import MaildirStore

HOST = "JServer.NetLab"
LAB_USERS = ("group1_1", "group1_2", "group1_3")
#: Seconds any single reply may take before the dialogue counts as hung.
REPLY_TIMEOUT = 10.0


class Dialogue:
    """One client connection that plays ``C:`` lines and checks ``S:`` lines."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.greeting = ""

    async def line_bytes(self) -> bytes:
        data = await asyncio.wait_for(self.reader.readline(), REPLY_TIMEOUT)
        if not data:
            raise EOFError("server closed the connection")
        assert data.endswith(b"\r\n"), f"reply not CRLF-terminated: {data!r}"
        return data[:-2]

    async def line(self) -> str:
        return (await self.line_bytes()).decode("utf-8")

    async def send(self, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        self.writer.write(data + b"\r\n")
        await self.writer.drain()

    async def expect(self, pattern: str) -> str:
        """Read one line matching ``pattern`` (``*`` is a wildcard, the rest literal)."""
        got = await self.line()
        regex = ".*".join(re.escape(part) for part in pattern.split("*"))
        assert re.fullmatch(regex, got), f"expected {pattern!r}, got {got!r}"
        return got

    async def multiline(self) -> list[bytes]:
        """The lines of a dot-terminated block, un-stuffed, without the final dot."""
        lines = []
        while (line := await self.line_bytes()) != b".":
            lines.append(line[1:] if line.startswith(b".") else line)
        return lines

    async def play(self, transcript: str) -> None:
        """Run an RFC-style transcript of ``C:`` and ``S:`` lines."""
        for raw in transcript.strip().splitlines():
            who, _, text = raw.strip().partition(":")
            text = text[1:] if text.startswith(" ") else text
            if who == "C":
                await self.send(text)
            elif who == "S":
                await self.expect(text)
            else:
                raise ValueError(f"transcript line must start with C: or S: -> {raw!r}")

    async def closed(self) -> bool:
        """True once the server has closed the connection (reads EOF)."""
        data = await asyncio.wait_for(self.reader.read(1), REPLY_TIMEOUT)
        return data == b""

    async def starttls(self, context: ssl.SSLContext) -> None:
        """The client side of the handshake that follows ``+OK`` to STLS."""
        await asyncio.wait_for(self.writer.start_tls(context, server_hostname=HOST), REPLY_TIMEOUT)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


@dataclass
class Pop3Lab:
    """An in-process POP3 listener over a real store and user database."""

    config: Config
    store: MaildirStore
    users: UserDatabase
    auth: Authenticator
    sessions: SessionRegistry
    server: asyncio.Server | None = None
    dialogues: list[Dialogue] = field(default_factory=list)
    #: The self-signed certificate of a lab started with ``starttls=True``.
    certificate: Path | None = None

    def client_tls_context(self) -> ssl.SSLContext:
        """A client context that trusts exactly this lab's certificate."""
        assert self.certificate is not None, "start the lab with starttls=True"
        return ssl.create_default_context(cafile=str(self.certificate))

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def connect(self, greet: bool = True) -> Dialogue:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        dialogue = Dialogue(reader, writer)
        self.dialogues.append(dialogue)
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

    async def close(self) -> None:
        for dialogue in self.dialogues:
            await dialogue.close()
        if self.server is not None:
            self.server.close()
            await self.sessions.shutdown(1.0)
            await self.server.wait_closed()
        self.auth.close()


LabFactory = Callable[..., Awaitable[Pop3Lab]]


@pytest.fixture
async def lab_factory(tmp_path: Path) -> AsyncIterator[LabFactory]:
    """Start labs with config overrides (``auth=...``, ``limits=...``); ``starttls`` adds STLS."""
    labs: list[Pop3Lab] = []

    async def start(*, starttls: bool = False, **overrides: Any) -> Pop3Lab:
        data_dir = tmp_path / f"lab{len(labs)}"
        data_dir.mkdir()
        config = replace(
            Config(
                hostname=HOST,
                domains=(HOST,),
                data_dir=data_dir,
                listeners={"pop3": ListenAddress("127.0.0.1", 0)},
            ),
            **overrides,
        )
        config.mail_dir.mkdir(parents=True)
        users = UserDatabase(config.user_db_path)
        users.add_many(((name, name) for name in LAB_USERS), plain_secret=True)
        users.add("mrose", "tanstaaf", plain_secret=True)
        users.add("bob", "bob-secret-pw")
        auth = Authenticator(users, config.domains)
        store = MaildirStore(config.mail_dir)
        sessions = SessionRegistry(
            config.limits.max_connections, config.limits.max_connections_per_ip
        )
        lab = Pop3Lab(config, store, users, auth, sessions)
        labs.append(lab)
        tls: ssl.SSLContext | None = None
        if starttls:
            paths = certificate_paths(config)
            write_self_signed(paths, HOST, ())
            tls = server_context(paths)
            lab.certificate = paths.certificate
        context = ListenerContext(
            name="pop3",
            services=Services(config=config, store=store, auth=auth),
            address=config.listeners["pop3"],
            sessions=sessions,
            starttls_context=tls,
        )
        lab.server = await start_listener(context)
        return lab

    yield start
    for lab in labs:
        await lab.close()


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
