"""Port 587 rules, STARTTLS state reset and injection, CRAM-MD5, the session time limit.

Transcripts against the in-process listener of ``test_smtp_exercises``; the
``submission`` listener key switches on the submission rules.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac

import yaml

from mailserver.config import AuthSettings, TimeoutSettings
from tests.dialogue import test_smtp_exercises as harness
from tests.dialogue.test_smtp_exercises import Dialogue, SmtpLab, SmtpLabFactory

smtp_lab_factory = harness.smtp_lab_factory
smtp_lab = harness.smtp_lab

PLAIN_GROUP1_1 = base64.b64encode(b"\0group1_1\0group1_1").decode()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def add_alias(lab: SmtpLab, user: str, alias: str) -> None:
    """Aliases live in the user database file; the server notices the change."""
    path = lab.config.user_db_path
    document = yaml.safe_load(path.read_text())
    document["users"][user].setdefault("aliases", []).append(alias)
    path.write_text(yaml.safe_dump(document))


async def submission_lab(factory: SmtpLabFactory, **overrides: object) -> SmtpLab:
    return await factory(name="submission", **overrides)


async def test_submission_needs_auth_and_the_users_own_sender(
    smtp_lab_factory: SmtpLabFactory,
) -> None:
    lab = await submission_lab(smtp_lab_factory)
    add_alias(lab, "group1_1", "nick")
    dialogue = await lab.connect()
    await dialogue.play(f"""
        C: EHLO pc
        S: 250-JServer.NetLab
        S: 250-PIPELINING
        S: 250-SIZE 73400320
        S: 250-AUTH PLAIN LOGIN CRAM-MD5
        S: 250-BURL imap
        S: 250-8BITMIME
        S: 250-ENHANCEDSTATUSCODES
        S: 250-SMTPUTF8
        S: 250-DSN
        S: 250-CHUNKING
        S: 250 BINARYMIME
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 530 5.7.0 Authentication required
        C: RCPT TO:<group1_2@JServer.NetLab>
        S: 530 5.7.0 Authentication required
        C: DATA
        S: 530 5.7.0 Authentication required
        C: AUTH PLAIN {PLAIN_GROUP1_1}
        S: 235 2.7.0 Authentication successful
        C: MAIL FROM:<group1_2@JServer.NetLab>
        S: 553 5.7.1 Sender address rejected: not owned by user group1_1
        C: MAIL FROM:<group1_1@remote.example>
        S: 553 5.7.1 Sender address rejected: not owned by user group1_1
        C: MAIL FROM:<>
        S: 553 5.7.1 Sender address rejected: not owned by user group1_1
        C: mail from:<NICK@jserver.netlab>
        S: 250 2.1.0 Ok
        C: RSET
        S: 250 2.0.0 Ok
        C: MAIL FROM:<Group1_1@JServer.NetLab>
        S: 250 2.1.0 Ok
        C: RCPT TO:<someone@remote.example>
        S: 250 2.1.5 Ok
        C: RCPT TO:<group1_2@JServer.NetLab>
        S: 250 2.1.5 Ok
        C: DATA
        S: 354 *
        C: Subject: via 587
        C:
        C: hello
        C: .
        S: 250 2.0.0 Ok: queued as *
    """)
    [stored] = await lab.messages("group1_2")
    assert b"Return-Path: <Group1_1@JServer.NetLab>" in stored
    assert b"with ESMTPA id" in stored


async def test_port_25_keeps_taking_mail_without_auth_or_sender_check(
    smtp_lab: SmtpLab,
) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play(f"""
        C: HELO pc
        S: 250 *
        C: MAIL FROM:<anyone@elsewhere.example>
        S: 250 2.1.0 Ok
        C: RCPT TO:<group1_2@JServer.NetLab>
        S: 250 2.1.5 Ok
        C: RSET
        S: 250 2.0.0 Ok
        C: AUTH PLAIN {PLAIN_GROUP1_1}
        S: 235 *
        C: MAIL FROM:<group1_2@JServer.NetLab>
        S: 250 2.1.0 Ok
    """)


async def ehlo_lines(dialogue: Dialogue) -> list[str]:
    await dialogue.send("EHLO pc")
    lines = [await dialogue.line()]
    while lines[-1].startswith("250-"):
        lines.append(await dialogue.line())
    return lines


async def test_starttls_forgets_helo_auth_and_envelope(smtp_lab_factory: SmtpLabFactory) -> None:
    lab = await submission_lab(
        smtp_lab_factory, starttls=True, auth=AuthSettings(allow_plaintext_without_tls=False)
    )
    dialogue = await lab.connect()
    before = await ehlo_lines(dialogue)
    assert "250-STARTTLS" in before
    assert not any("AUTH" in line for line in before)
    await dialogue.play(f"""
        C: AUTH PLAIN {PLAIN_GROUP1_1}
        S: 538 5.7.11 Encryption required for requested authentication mechanism
        C: AUTH CRAM-MD5
        S: 538 5.7.11 Encryption required for requested authentication mechanism
        C: STARTTLS
        S: 220 *
    """)
    await dialogue.starttls()
    await dialogue.play(f"""
        C: AUTH PLAIN {PLAIN_GROUP1_1}
        S: 503 5.5.1 Error: send HELO/EHLO first
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 503 5.5.1 Error: send HELO/EHLO first
    """)
    after = await ehlo_lines(dialogue)
    assert "250-AUTH PLAIN LOGIN CRAM-MD5" in after
    assert not any("STARTTLS" in line for line in after)
    await dialogue.play(f"""
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 530 5.7.0 Authentication required
        C: AUTH PLAIN {PLAIN_GROUP1_1}
        S: 235 2.7.0 Authentication successful
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 250 2.1.0 Ok
        C: STARTTLS
        S: 503 5.5.1 Error: TLS already active
        C: RCPT TO:<group1_3@JServer.NetLab>
        S: 250 2.1.5 Ok
        C: DATA
        S: 354 *
        C: secret
        C: .
        S: 250 2.0.0 Ok: queued as *
    """)
    [stored] = await lab.messages("group1_3")
    assert b"with ESMTPSA id" in stored


async def test_auth_state_is_forgotten_after_starttls(smtp_lab_factory: SmtpLabFactory) -> None:
    lab = await submission_lab(smtp_lab_factory, starttls=True)
    dialogue = await lab.connect()
    await dialogue.play(f"""
        C: EHLO pc
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-STARTTLS
        S: 250-*
        S: 250-BURL imap
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250 *
        C: AUTH PLAIN {PLAIN_GROUP1_1}
        S: 235 *
        C: STARTTLS
        S: 220 *
    """)
    await dialogue.starttls()
    await dialogue.play("""
        C: EHLO pc
        S: 250-JServer.NetLab
        S: 250-*
        S: 250-*
        S: 250-AUTH PLAIN LOGIN CRAM-MD5
        S: 250-BURL imap
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250 *
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 530 5.7.0 Authentication required
    """)


async def test_plaintext_pipelined_after_starttls_is_discarded(
    smtp_lab_factory: SmtpLabFactory,
) -> None:
    """The STARTTLS command-injection class (e.g. CVE-2011-0411): commands sent in
    the same packet as STARTTLS must not be executed inside the TLS session."""
    lab = await smtp_lab_factory(starttls=True)
    for injected in ("NOOP", "RSET", "MAIL FROM:<group1_1@JServer.NetLab>", "EHLO evil"):
        dialogue = await lab.connect()
        await dialogue.play("""
            C: EHLO pc
            S: 250-*
            S: 250-*
            S: 250-*
            S: 250-STARTTLS
            S: 250-*
            S: 250-*
            S: 250-*
            S: 250-*
            S: 250-*
            S: 250-*
            S: 250 *
        """)
        dialogue.writer.write(f"STARTTLS\r\n{injected}\r\n".encode())
        await dialogue.expect("220 *")
        await dialogue.starttls()
        # The first reply inside TLS must answer our QUIT, not the injected command.
        await dialogue.play("""
            C: QUIT
            S: 221 2.0.0 Bye
        """)
        assert await dialogue.closed()


def cram_response(challenge_line: str, user: str, secret: str) -> str:
    challenge = base64.b64decode(challenge_line.removeprefix("334 "))
    return b64(f"{user} {hmac.new(secret.encode(), challenge, hashlib.md5).hexdigest()}")


async def test_cram_md5(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    replies = await dialogue.play("""
        C: EHLO pc
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-AUTH PLAIN LOGIN CRAM-MD5
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250 *
        C: AUTH CRAM-MD5
        S: 334 *
    """)
    challenge = replies[-1]
    assert base64.b64decode(challenge[4:]).endswith(b"@JServer.NetLab>")
    await dialogue.send(cram_response(challenge, "bob", "bob-secret-pw"))
    await dialogue.expect("535 5.7.8 Authentication credentials invalid")
    await dialogue.send("auth cram-md5")
    challenge = await dialogue.expect("334 *")
    await dialogue.send(cram_response(challenge, "group1_1", "group1_1"))
    await dialogue.play("""
        S: 235 2.7.0 Authentication successful
        C: NOOP
        S: 250 2.0.0 Ok
    """)


async def test_total_session_time_is_capped(smtp_lab_factory: SmtpLabFactory) -> None:
    """A client that is never idle still gets cut off after 10 idle timeouts in total."""
    # An idle timeout generous enough that a loaded machine never reaches it between
    # two NOOPs; the session cap (ten of them, 5 s) comes long before the loop ends.
    lab = await smtp_lab_factory(timeouts=TimeoutSettings(smtp=0.5))
    dialogue = await lab.connect()
    for _ in range(400):  # 20 s of NOOPs, four times the 5 s cap
        await asyncio.sleep(0.05)
        await dialogue.send("NOOP")
        reply = await dialogue.line()
        if reply != "250 2.0.0 Ok":
            break
    assert reply == "421 4.4.2 Session time limit reached, closing connection"
    assert await dialogue.closed()
