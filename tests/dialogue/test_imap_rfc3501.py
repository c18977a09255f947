"""RFC 3501's sample session (section 8) and its command examples, replayed as transcripts.

The IMAP listener runs in this process on 127.0.0.1:0 with a real
MaildirStore and a real user database in ``tmp_path``. ``S:`` lines are
matched with ``*`` as a wildcard (the rest literal), so transcripts read
like the RFC. ``ImapLab`` and the ``imap_lab`` fixture are shared with
``test_imap_sessions.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mailserver.storage import INBOX, Snapshot
from mailserver.storage.maildir import MaildirStore
from tests.support.inprocess import HOST, REPLY_TIMEOUT, Dialogue, Lab, LabPool, lab_users

__all__ = ["HOST", "REPLY_TIMEOUT", "Dialogue", "ImapLab", "LabFactory"]

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


@dataclass
class ImapLab(Lab):
    async def connect(self) -> Dialogue:
        dialogue = await self.open(Dialogue)
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


LabFactory = Callable[..., Awaitable[ImapLab]]


@pytest.fixture
async def imap_lab_factory(tmp_path: Path) -> AsyncIterator[LabFactory]:
    from mailserver.imap.listener import start_listener

    pool = LabPool(tmp_path)

    async def start(**overrides: Any) -> ImapLab:
        config = pool.config("imap", overrides)
        users = lab_users(config, ((n, n) for n in ("group1_1", "group1_2", "mrc")))
        store = MaildirStore(config.mail_dir, quota=config.quota.limit_bytes)
        return await pool.start(ImapLab, config, store, users, start_listener, listener="imap")

    yield start
    await pool.close()


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
        S: * OK [MAILBOXID (*)] Ok
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
        S: * OK [MAILBOXID (*)] Ok
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
        S: A003 OK [MAILBOXID (*)] Create completed
        C: A004 CREATE owatagusiam/blurdybloop
        S: A004 OK [MAILBOXID (*)] Create completed
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
    await client.play("C: A002 CREATE saved-messages\nS: A002 OK [MAILBOXID (*)] Create completed")
    await client.send(b"A003 APPEND saved-messages (\\Seen) {%d}" % len(message))
    await client.expect("+ Ready for literal data")
    await client.send(message)
    await client.expect("A003 OK [APPENDUID *] Append completed")
    stored = (await imap_lab.snapshot(folder="saved-messages")).messages
    assert len(stored) == 1 and stored[0].flags == frozenset({"\\Seen"})
    assert stored[0].size == len(message)
