"""The lab's SMTP exercises 1 and 2, replayed as transcripts against an in-process listener.

The SMTP listener runs in this process on 127.0.0.1:0 with a real
MaildirStore and a real user database in ``tmp_path``. ``SmtpLab``, the
``smtp_lab_factory`` fixture and ``Dialogue`` are shared with the other
``test_smtp_*`` dialogue files.
"""

from __future__ import annotations

import email
import email.policy
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mailserver.net.tls import ensure_certificate, server_context
from mailserver.smtp.listener import start_listener
from mailserver.storage import INBOX
from mailserver.storage.maildir import MaildirStore
from tests.support import inprocess
from tests.support.inprocess import Lab, LabPool, lab_users

LAB_USERS = ("group1_1", "group1_2", "group1_3", "group6_6")
#: An account stored with a password hash only: CRAM-MD5 cannot work for it.
HASH_ONLY_USER = ("bob", "bob-secret-pw")


class Dialogue(inprocess.Dialogue):
    """An SMTP client connection; blank transcript lines are skipped."""

    skip_blank_lines = True

    async def starttls(self) -> None:
        """Upgrade this connection after the server's ``220`` to STARTTLS."""
        await self.writer.start_tls(client_tls_context())


def client_tls_context() -> ssl.SSLContext:
    """Trusts anything: the lab's certificate is self-signed."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@dataclass
class SmtpLab(Lab):
    async def connect(self, greet: bool = True, tls: bool = False) -> Dialogue:
        dialogue = await self.open(Dialogue, client_tls_context() if tls else None)
        if greet:
            await dialogue.expect("220 JServer.NetLab ESMTP ready")
        return dialogue

    async def messages(self, user: str) -> list[bytes]:
        folder = await (await self.store.mailbox(user)).folder(INBOX)
        snapshot = await folder.snapshot()
        return [await folder.read(info.uid) for info in snapshot.messages]


SmtpLabFactory = Callable[..., Awaitable[SmtpLab]]


@pytest.fixture
async def smtp_lab_factory(tmp_path: Path) -> AsyncIterator[SmtpLabFactory]:
    """Start labs with config overrides (``limits=...``, ``auth=...``, ``timeouts=...``);
    ``implicit_tls=True`` makes it an smtps-style listener with a self-signed certificate,
    ``starttls=True`` offers STARTTLS with one, ``name`` is the listener key
    (``"submission"`` for port-587 rules)."""
    pool = LabPool(tmp_path)

    async def start(
        implicit_tls: bool = False, starttls: bool = False, name: str = "smtp", **overrides: Any
    ) -> SmtpLab:
        config = pool.config("smtp", overrides)
        users = lab_users(config, ((n, n) for n in LAB_USERS), hashed=[HASH_ONLY_USER])
        store = MaildirStore(config.mail_dir)
        tls = server_context(ensure_certificate(config)) if implicit_tls or starttls else None
        return await pool.start(
            SmtpLab,
            config,
            store,
            users,
            start_listener,
            listener="smtp",
            name=name,
            ssl_context=tls if implicit_tls else None,
            starttls_context=tls if starttls else None,
        )

    yield start
    await pool.close()


@pytest.fixture
async def smtp_lab(smtp_lab_factory: SmtpLabFactory) -> SmtpLab:
    return await smtp_lab_factory()


def case(text: str, lower: bool) -> str:
    """Lower-case the verbs of the client lines (what a student may type)."""
    if not lower:
        return text
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("C: ") and re.match(r"C: [A-Z]{4}\b", stripped):
            verb_and_rest = stripped[3:]
            verb, sep, rest = verb_and_rest.partition(" ")
            if ":" in rest.split(" ")[0]:  # "FROM:" / "TO:" keywords too
                keyword, sep2, tail = rest.partition(":")
                rest = keyword.lower() + sep2 + tail
            line = "C: " + verb.lower() + sep + rest
        out.append(line)
    return "\n".join(out)


EXERCISE_1 = """
C: HELO cslabc36
S: 250 JServer.NetLab
C: MAIL FROM: <group6_6@JServer.NetLab>
S: 250 2.1.0 Ok
C: RCPT TO: <group6_6@JServer.NetLab>
S: 250 2.1.5 Ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: Message-ID: <001a01d2@cslabc36>
C: From: "group6_6" <group6_6@JServer.NetLab>
C: To: <group6_6@JServer.NetLab>
C: Subject: Exercise 1
C: Date: Mon, 6 Mar 2017 10:00:00 +0800
C: MIME-Version: 1.0
C: Content-Type: multipart/alternative;
C: 	boundary="----=_NextPart_000_0001"
C: X-Priority: 3
C:
C: This is a multi-part message in MIME format.
C:
C: ------=_NextPart_000_0001
C: Content-Type: text/plain; charset="gbk"
C:
C: hello
C:
C: ------=_NextPart_000_0001
C: Content-Type: text/html; charset="gbk"
C:
C: <p>hello</p>
C:
C: ------=_NextPart_000_0001--
C: .
S: 250 2.0.0 Ok: queued as *
C: QUIT
S: 221 2.0.0 Bye
"""


@pytest.mark.parametrize("lower", [False, True], ids=["upper", "lower"])
async def test_exercise_1(smtp_lab: SmtpLab, lower: bool) -> None:
    dialogue = await smtp_lab.connect()
    replies = await dialogue.play(case(EXERCISE_1, lower))
    assert await dialogue.closed()
    queue_id = replies[-2].rsplit(" ", 1)[1]
    [stored] = await smtp_lab.messages("group6_6")
    parsed = email.message_from_bytes(stored, policy=email.policy.default)
    assert parsed["Return-Path"] == "<group6_6@JServer.NetLab>"
    assert f"id {queue_id}" in str(parsed["Received"])
    assert "from cslabc36 (" in str(parsed["Received"])
    assert parsed["Message-ID"] == "<001a01d2@cslabc36>"
    assert parsed.get_content_type() == "multipart/alternative"
    assert [part.get_content().strip() for part in parsed.iter_parts()] == [
        "hello",
        "<p>hello</p>",
    ]


def b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


EXERCISE_2 = f"""
C: HELO somehost
S: 250 JServer.NetLab
C: auth login
S: 334 VXNlcm5hbWU6
C: {b64("group1_1")}
S: 334 UGFzc3dvcmQ6
C: {b64("group1_1")}
S: 235 2.7.0 Authentication successful
C: MAIL FROM:<group1_1@JServer.NetLab>
S: 250 2.1.0 Ok
C: RCPT TO:<group1_2@JServer.NetLab>
S: 250 2.1.5 Ok
C: RCPT TO:<group1_3@JServer.NetLab>
S: 250 2.1.5 Ok
C: DATA
S: 354 End data with <CR><LF>.<CR><LF>
C: From: nick <group1_1@JServer.NetLab>
C: To: someone@JServer.NetLab
C: Subject: Test mail 3
C:
C: This is a test mail!
C: .
S: 250 2.0.0 Ok: queued as *
C: QUIT
S: 221 2.0.0 Bye
"""


@pytest.mark.parametrize("lower", [False, True], ids=["upper", "lower"])
async def test_exercise_2(smtp_lab: SmtpLab, lower: bool) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play(case(EXERCISE_2, lower))
    for user in ("group1_2", "group1_3"):
        [stored] = await smtp_lab.messages(user)
        parsed = email.message_from_bytes(stored, policy=email.policy.default)
        assert parsed["Subject"] == "Test mail 3"
        assert parsed.get_content().strip() == "This is a test mail!"
        assert f"for <{user}@JServer.NetLab>" in str(parsed["Received"])
        assert "with ESMTPA id" in str(parsed["Received"])
        assert parsed["Date"] is not None
        assert parsed["Message-ID"] is not None


async def test_exercise_2_with_address_as_login_and_wrong_password(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play(f"""
        C: HELO somehost
        S: 250 JServer.NetLab
        C: AUTH LOGIN
        S: 334 VXNlcm5hbWU6
        C: {b64("group1_1@JServer.NetLab")}
        S: 334 UGFzc3dvcmQ6
        C: {b64("wrong")}
        S: 535 5.7.8 Authentication credentials invalid
        C: AUTH LOGIN {b64("group1_1@JServer.NetLab")}
        S: 334 UGFzc3dvcmQ6
        C: {b64("group1_1")}
        S: 235 2.7.0 Authentication successful
    """)


async def test_bare_body(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play("""
        C: helo pc
        S: 250 JServer.NetLab
        C: mail from:<group1_1@JServer.NetLab>
        S: 250 2.1.0 Ok
        C: rcpt to:<group1_2@JServer.NetLab>
        S: 250 2.1.5 Ok
        C: data
        S: 354 *
        C: myemail
        C: .
        S: 250 2.0.0 Ok: queued as *
    """)
    [stored] = await smtp_lab.messages("group1_2")
    header, separator, body = stored.partition(b"\r\n\r\n")
    assert separator and body == b"myemail\r\n"
    names = [line.split(b":")[0] for line in header.split(b"\r\n") if line[:1] not in b" \t"]
    assert names == [b"Return-Path", b"Received", b"From", b"Date", b"Message-ID"]
