"""In-process listeners over a real store, for the dialogue tests.

A *lab* is one protocol listener started in this process on 127.0.0.1:0
with a real MaildirStore and a real user database in a temp directory. A
``Dialogue`` is one client connection that plays RFC-style transcripts:
``C:`` lines are sent, ``S:`` lines are matched with ``*`` as a wildcard
(the rest literal). The protocol modules (``tests/dialogue/test_imap_rfc3501.py``,
``test_pop3_rfc1939.py``, ``test_smtp_exercises.py``) add their greetings,
accounts and listener options on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from mailserver.auth import Authenticator, UserDatabase
from mailserver.auth.throttle import LoginThrottle, ThrottlePolicy
from mailserver.config import Config, ListenAddress
from mailserver.listeners import ListenerContext
from mailserver.net.sessions import SessionRegistry
from mailserver.services import Services
from mailserver.storage.maildir import MaildirStore

HOST = "JServer.NetLab"
#: Seconds any single reply may take before the dialogue counts as hung.
REPLY_TIMEOUT = 10.0


class Dialogue:
    """One client connection that plays ``C:`` lines and checks ``S:`` lines."""

    #: Whether ``play`` skips blank transcript lines (otherwise they are an error).
    skip_blank_lines = False

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def line_bytes(self) -> bytes:
        data = await asyncio.wait_for(self.reader.readline(), REPLY_TIMEOUT)
        if not data:
            raise EOFError("server closed the connection")
        assert data.endswith(b"\r\n"), f"reply not CRLF-terminated: {data!r}"
        return data[:-2]

    async def line(self) -> str:
        return (await self.line_bytes()).decode("utf-8")

    async def read(self, size: int) -> bytes:
        return await asyncio.wait_for(self.reader.readexactly(size), REPLY_TIMEOUT)

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

    async def play(self, transcript: str) -> list[str]:
        """Run ``C:``/``S:`` lines; ``C:`` with nothing after it sends an empty line.

        Returns the server lines that matched the ``S:`` patterns.
        """
        got = []
        for raw in transcript.strip().splitlines():
            if self.skip_blank_lines and not raw.strip():
                continue
            who, _, text = raw.strip().partition(":")
            text = text[1:] if text.startswith(" ") else text
            if who == "C":
                await self.send(text)
            elif who == "S":
                got.append(await self.expect(text))
            else:
                raise ValueError(f"transcript line must start with C: or S: -> {raw!r}")
        return got

    async def closed(self) -> bool:
        """True once the server has closed the connection (reads EOF)."""
        data = await asyncio.wait_for(self.reader.read(1), REPLY_TIMEOUT)
        return data == b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


D = TypeVar("D", bound=Dialogue)


@dataclass
class Lab:
    """An in-process listener over a real store and user database."""

    config: Config
    store: MaildirStore
    users: UserDatabase
    auth: Authenticator
    sessions: SessionRegistry
    server: asyncio.Server | None = None
    dialogues: list[Any] = field(default_factory=list)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def open(self, kind: Callable[[Any, Any], D], tls: ssl.SSLContext | None = None) -> D:
        """A new connection as a ``kind`` dialogue, closed with the lab."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, ssl=tls)
        dialogue = kind(reader, writer)
        self.dialogues.append(dialogue)
        return dialogue

    async def close(self) -> None:
        for dialogue in self.dialogues:
            await dialogue.close()
        if self.server is not None:
            self.server.close()
            await self.sessions.shutdown(1.0)
            await self.server.wait_closed()
        self.auth.close()


L = TypeVar("L", bound=Lab)
StartListener = Callable[[ListenerContext], Awaitable[asyncio.Server]]


def lab_config(data_dir: Path, listener: str, overrides: dict[str, Any]) -> Config:
    """The lab's config with one listener on 127.0.0.1:0; creates the data and mail dirs."""
    data_dir.mkdir()
    config = replace(
        Config(
            hostname=HOST,
            domains=(HOST,),
            data_dir=data_dir,
            listeners={listener: ListenAddress("127.0.0.1", 0)},
        ),
        **overrides,
    )
    config.mail_dir.mkdir(parents=True)
    return config


def lab_users(
    config: Config,
    plain: Iterable[tuple[str, str]],
    hashed: Iterable[tuple[str, str]] = (),
) -> UserDatabase:
    """The user database: ``plain`` accounts keep a plaintext-equivalent secret."""
    users = UserDatabase(config.user_db_path)
    users.add_many(plain, plain_secret=True)
    for name, password in hashed:
        users.add(name, password)
    return users


class LabPool:
    """Builds labs in numbered directories under ``base`` and closes them all at the end."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.labs: list[Lab] = []

    def config(self, listener: str, overrides: dict[str, Any]) -> Config:
        return lab_config(self.base / f"lab{len(self.labs)}", listener, overrides)

    async def start(
        self,
        kind: Callable[[Config, MaildirStore, UserDatabase, Authenticator, SessionRegistry], L],
        config: Config,
        store: MaildirStore,
        users: UserDatabase,
        start_listener: StartListener,
        *,
        listener: str,
        name: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        starttls_context: ssl.SSLContext | None = None,
    ) -> L:
        """Start ``start_listener`` for the config's ``listener`` address as a ``kind`` lab."""
        throttle = LoginThrottle(ThrottlePolicy.from_settings(config.auth))
        auth = Authenticator(users, config.domains, throttle=throttle)
        sessions = SessionRegistry(
            config.limits.max_connections, config.limits.max_connections_per_ip
        )
        lab = kind(config, store, users, auth, sessions)
        self.labs.append(lab)
        context = ListenerContext(
            name=name or listener,
            services=Services(config=config, store=store, auth=auth),
            address=config.listeners[listener],
            sessions=sessions,
            ssl_context=ssl_context,
            starttls_context=starttls_context,
        )
        lab.server = await start_listener(context)
        return lab

    async def close(self) -> None:
        for lab in self.labs:
            await lab.close()
