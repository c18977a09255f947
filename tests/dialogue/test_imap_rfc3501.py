"""RFC 3501's sample session (section 8) and its command examples, replayed as transcripts.

The IMAP listener runs in this process on 127.0.0.1:0 with a real
MaildirStore and a real user database in ``tmp_path``. ``S:`` lines are
matched with ``*`` as a wildcard (the rest literal), so transcripts read
like the RFC. ``ImapLab`` and the ``imap_lab`` fixture are shared with
``test_imap_sessions.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from mailserver.auth import Authenticator, UserDatabase
from mailserver.config import Config, ListenAddress
from mailserver.listeners import ListenerContext
from mailserver.net.sessions import SessionRegistry
from mailserver.services import Services
from mailserver.storage import INBOX, Snapshot
from mailserver.storage.maildir import MaildirStore

HOST = "JServer.NetLab"
REPLY_TIMEOUT = 10.0

RFC_MESSAGE = (
    b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
    b"From: Terry Gray <gray@cac.washington.edu>\r\n"
    b"Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
    b"To: imap@cac.washington.edu\r\n"
    b"cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
    b"Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    b"\r\n"
    b"Minutes of the meeting.\r\n"
)


class Dialogue:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def line(self) -> str:
        data = await asyncio.wait_for(self.reader.readline(), REPLY_TIMEOUT)
        if not data:
            raise EOFError("server closed the connection")
        assert data.endswith(b"\r\n"), f"line not CRLF-terminated: {data!r}"
        return data[:-2].decode("utf-8")

    async def read(self, size: int) -> bytes:
        return await asyncio.wait_for(self.reader.readexactly(size), REPLY_TIMEOUT)

    async def send(self, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        self.writer.write(data + b"\r\n")
        await self.writer.drain()

    async def expect(self, pattern: str) -> str:
        got = await self.line()
        regex = ".*".join(re.escape(part) for part in pattern.split("*"))
        assert re.fullmatch(regex, got), f"expected {pattern!r}, got {got!r}"
        return got

    async def play(self, transcript: str) -> None:
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
        return await asyncio.wait_for(self.reader.read(1), REPLY_TIMEOUT) == b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


@dataclass
class ImapLab:
    config: Config
    store: MaildirStore
    auth: Authenticator
    sessions: SessionRegistry
    server: asyncio.Server | None = None
    dialogues: list[Dialogue] = field(default_factory=list)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def connect(self) -> Dialogue:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        dialogue = Dialogue(reader, writer)
        self.dialogues.append(dialogue)
        await dialogue.expect("* OK [CAPABILITY *] JServer.NetLab IMAP4rev1 ready")
        return dialogue

    async def login(self, user: str = "group1_1") -> Dialogue:
        dialogue = await self.connect()
        await dialogue.send(f"L1 LOGIN {user} {user}")
        await dialogue.expect("L1 OK [CAPABILITY *] Logged in")
        return dialogue

    async def deliver(
        self, data: bytes, flags: tuple[str, ...] = (), user: str = "group1_1", folder: str = INBOX
    ) -> int:
        target = await (await self.store.mailbox(user)).folder(folder)
        return await target.append(data, flags)

    async def snapshot(self, user: str = "group1_1", folder: str = INBOX) -> Snapshot:
        return await (await (await self.store.mailbox(user)).folder(folder)).snapshot()

    async def close(self) -> None:
        for dialogue in self.dialogues:
            await dialogue.close()
        if self.server is not None:
            self.server.close()
            await self.sessions.shutdown(1.0)
            await self.server.wait_closed()
        self.auth.close()


LabFactory = Callable[..., Awaitable[ImapLab]]


@pytest.fixture
async def imap_lab_factory(tmp_path: Path) -> AsyncIterator[LabFactory]:
    from mailserver.imap.listener import start_listener

    labs: list[ImapLab] = []

    async def start(**overrides: Any) -> ImapLab:
        data_dir = tmp_path / f"lab{len(labs)}"
        data_dir.mkdir()
        config = replace(
            Config(
                hostname=HOST,
                domains=(HOST,),
                data_dir=data_dir,
                listeners={"imap": ListenAddress("127.0.0.1", 0)},
            ),
            **overrides,
        )
        config.mail_dir.mkdir(parents=True)
        users = UserDatabase(config.user_db_path)
        users.add_many(((n, n) for n in ("group1_1", "group1_2", "mrc")), plain_secret=True)
        auth = Authenticator(users, config.domains)
        store = MaildirStore(config.mail_dir, quota=config.quota.limit_bytes)
        sessions = SessionRegistry(
            config.limits.max_connections, config.limits.max_connections_per_ip
        )
        lab = ImapLab(config, store, auth, sessions)
        labs.append(lab)
        context = ListenerContext(
            name="imap",
            services=Services(config, store, auth),
            address=config.listeners["imap"],
            sessions=sessions,
        )
        lab.server = await start_listener(context)
        return lab

    yield start
    for lab in labs:
        await lab.close()


@pytest.fixture
async def imap_lab(imap_lab_factory: LabFactory) -> ImapLab:
    return await imap_lab_factory()


async def test_rfc3501_section_8_sample_session(imap_lab: ImapLab) -> None:
    for n in range(1, 19):
        flags = ("\\Seen",) if n < 17 else ()
        await imap_lab.deliver(RFC_MESSAGE if n == 12 else b"Subject: %d\r\n\r\nx\r\n" % n, flags)
        if n == 16:  # an earlier session saw the first 16: only 17 and 18 are \Recent
            inbox = await (await imap_lab.store.mailbox("group1_1")).folder(INBOX)
            await inbox.snapshot(claim_recent=True)
    client = await imap_lab.connect()
    await client.play(
        """
        C: a001 login mrc mrc
        S: a001 OK [CAPABILITY *] Logged in
        C: a002 select inbox
        S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
        S: * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] *
        S: * 0 EXISTS
        S: * 0 RECENT
        S: * OK [UIDVALIDITY *] UIDs valid
        S: * OK [UIDNEXT 1] Predicted next UID
        S: * OK [HIGHESTMODSEQ *] Highest
        S: a002 OK [READ-WRITE] Select completed
        C: a003 logout
        S: * BYE *
        S: a003 OK Logout completed
        """
    )
    assert await client.closed()

    # The same, as group1_1 who has the 18 messages.
    size = len(RFC_MESSAGE)
    header_size = RFC_MESSAGE.index(b"\r\n\r\n") + 4
    client = await imap_lab.connect()
    await client.play(
        f"""
        C: a001 login group1_1 group1_1
        S: a001 OK [CAPABILITY *] Logged in
        C: a002 select inbox
        S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)
        S: * OK [PERMANENTFLAGS *] Flags permitted
        S: * 18 EXISTS
        S: * 2 RECENT
        S: * OK [UNSEEN 17] First unseen
        S: * OK [UIDVALIDITY *] UIDs valid
        S: * OK [UIDNEXT 19] Predicted next UID
        S: * OK [HIGHESTMODSEQ *] Highest
        S: a002 OK [READ-WRITE] Select completed
        C: a003 fetch 12 full
        S: * 12 FETCH (FLAGS (\\Seen) INTERNALDATE "*" RFC822.SIZE {size} ENVELOPE (*) BODY (*))
        S: a003 OK FETCH completed
        C: a004 fetch 12 body[header]
        S: * 12 FETCH (BODY[HEADER] {{{header_size}}}
        S: Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)
        S: From: Terry Gray <gray@cac.washington.edu>
        S: Subject: IMAP4rev1 WG mtg summary and minutes
        S: To: imap@cac.washington.edu
        S: cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>
        S: Message-Id: <B27397-0100000@cac.washington.edu>
        S: MIME-Version: 1.0
        S: Content-Type: TEXT/PLAIN; CHARSET=US-ASCII
        S:
        S: )
        S: a004 OK FETCH completed
        C: a005 store 12 +flags \\deleted
        S: * 12 FETCH (FLAGS (\\Deleted \\Seen))
        S: a005 OK STORE completed
        C: a006 logout
        S: * BYE *
        S: a006 OK Logout completed
        """
    )


async def test_rfc3501_examples_for_mailbox_commands(imap_lab: ImapLab) -> None:
    client = await imap_lab.login()
    await client.play(
        """
        C: A003 CREATE owatagusiam/
        S: A003 OK Create completed
        C: A004 CREATE owatagusiam/blurdybloop
        S: A004 OK Create completed
        C: A682 LIST "" *
        S: * LIST (\\HasNoChildren) "/" INBOX
        S: * LIST (\\HasChildren) "/" owatagusiam
        S: * LIST (\\HasNoChildren) "/" owatagusiam/blurdybloop
        S: A682 OK LIST completed
        C: A101 LIST "" ""
        S: * LIST (\\Noselect) "/" ""
        S: A101 OK LIST completed
        C: A683 RENAME owatagusiam/blurdybloop sarasoop
        S: A683 OK Rename completed
        C: A684 DELETE owatagusiam
        S: A684 OK Delete completed
        C: A685 LIST "" %
        S: * LIST (\\HasNoChildren) "/" INBOX
        S: * LIST (\\HasNoChildren) "/" sarasoop
        S: A685 OK LIST completed
        C: A002 SUBSCRIBE sarasoop
        S: A002 OK Subscribe completed
        C: A003 LSUB "" *
        S: * LSUB () "/" sarasoop
        S: A003 OK LSUB completed
        C: A042 STATUS sarasoop (UIDNEXT MESSAGES)
        S: * STATUS sarasoop (UIDNEXT 1 MESSAGES 0)
        S: A042 OK Status completed
        C: A005 DELETE INBOX
        S: A005 NO [CANNOT] INBOX cannot be deleted
        C: A006 SELECT nowhere
        S: A006 NO [NONEXISTENT] *
        C: A007 CREATE sarasoop
        S: A007 NO [ALREADYEXISTS] *
        """
    )


async def test_rfc3501_append_example(imap_lab: ImapLab) -> None:
    message = (
        b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
        b"From: Fred Foobar <foobar@Blurdybloop.COM>\r\n"
        b"Subject: afternoon meeting\r\n"
        b"To: mooch@owatagu.siam.edu\r\n"
        b"Message-Id: <B27397-0100000@Blurdybloop.COM>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
        b"\r\n"
        b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
    )
    client = await imap_lab.login()
    await client.play("C: A002 CREATE saved-messages\nS: A002 OK Create completed")
    await client.send(b"A003 APPEND saved-messages (\\Seen) {%d}" % len(message))
    await client.expect("+ Ready for literal data")
    await client.send(message)
    await client.expect("A003 OK [APPENDUID *] Append completed")
    stored = (await imap_lab.snapshot(folder="saved-messages")).messages
    assert len(stored) == 1 and stored[0].flags == frozenset({"\\Seen"})
    assert stored[0].size == len(message)
