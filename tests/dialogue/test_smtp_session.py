"""Session rules: command codes, sequence errors, limits, AUTH states, timeouts, shutdown."""

from __future__ import annotations

import asyncio
import base64
import os
import time
import tracemalloc

from mailserver.config import AuthSettings, Limits, TimeoutSettings
from tests.dialogue import test_smtp_exercises as harness
from tests.dialogue.test_smtp_exercises import SmtpLab, SmtpLabFactory

smtp_lab_factory = harness.smtp_lab_factory
smtp_lab = harness.smtp_lab


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


#: HELO, group1_1 sends to group1_2, and DATA accepted: a transaction ready for its text.
INTO_DATA = """
    C: HELO pc
    S: 250 *
    C: MAIL FROM:<group1_1@JServer.NetLab>
    S: 250 *
    C: RCPT TO:<group1_2@JServer.NetLab>
    S: 250 *
    C: DATA
    S: 354 *
"""


async def test_textbook_reply_codes(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play("""
        C: NOOP
        S: 250 2.0.0 Ok
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 503 5.5.1 Error: send HELO/EHLO first
        C: EHLO pc
        S: 250-JServer.NetLab
        S: 250-PIPELINING
        S: 250-SIZE 73400320
        S: 250-AUTH PLAIN LOGIN CRAM-MD5
        S: 250-8BITMIME
        S: 250-ENHANCEDSTATUSCODES
        S: 250-SMTPUTF8
        S: 250-DSN
        S: 250-CHUNKING
        S: 250 BINARYMIME
        C: VRFY group1_1
        S: 252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery
        C: vrfy nobody@JServer.NetLab
        S: 252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery
        C: VRFY
        S: 501 5.5.4 Syntax: VRFY <address>
        C: EXPN staff
        S: 502 5.5.1 EXPN not supported
        C: HELP
        S: 214 2.0.0 Commands: AUTH BDAT DATA EHLO EXPN HELO HELP MAIL NOOP QUIT RCPT RSET VRFY
        C: help rcpt
        S: 214 2.0.0 Syntax: RCPT TO:<address> [NOTIFY=*] [ORCPT=rfc822;<address>]
        C: HELP FOO
        S: 504 5.5.1 HELP topic unknown
        C: FOO bar
        S: 500 5.5.2 Error: command not recognized
        C:
        S: 500 5.5.2 Error: bad syntax
        C: RCPT TO:<group1_1@JServer.NetLab>
        S: 503 5.5.1 Error: need MAIL command
        C: DATA
        S: 503 5.5.1 Error: need RCPT command
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 250 2.1.0 Ok
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 503 5.5.1 Error: nested MAIL command
        C: DATA
        S: 503 5.5.1 Error: need RCPT command
        C: RSET
        S: 250 2.0.0 Ok
        C: MAIL
        S: 501 5.5.4 Syntax: MAIL FROM: <address> [SP <mail-parameters>]
        C: MAIL FROM:<a b>
        S: 553 5.1.3 Error: malformed address
        C: MAIL FROM:<group1_1@JServer.NetLab> FOO=BAR
        S: 555 5.5.4 MAIL FROM parameters not recognized or not implemented
        C: MAIL FROM:<> BODY=8BITMIME SMTPUTF8
        S: 250 2.1.0 Ok
        C: RCPT TO:<>
        S: 501 5.1.3 Error: empty recipient address
        C: RSET extra
        S: 501 5.5.4 Syntax: RSET
        C: QUIT
        S: 221 2.0.0 Bye
    """)
    assert await dialogue.closed()


async def test_size_parameter_over_the_limit(smtp_lab_factory: SmtpLabFactory) -> None:
    lab = await smtp_lab_factory(limits=Limits(max_message_size=1000))
    dialogue = await lab.connect()
    await dialogue.play("""
        C: EHLO pc
        S: 250-JServer.NetLab
        S: 250-PIPELINING
        S: 250-SIZE 1000
        S: 250-AUTH PLAIN LOGIN CRAM-MD5
        S: 250-8BITMIME
        S: 250-ENHANCEDSTATUSCODES
        S: 250-SMTPUTF8
        S: 250-DSN
        S: 250-CHUNKING
        S: 250 BINARYMIME
        C: MAIL FROM:<group1_1@JServer.NetLab> SIZE=1001
        S: 552 5.3.4 Message too big
        C: MAIL FROM:<group1_1@JServer.NetLab> SIZE=1000
        S: 250 2.1.0 Ok
        C: RCPT TO:<group1_2@JServer.NetLab>
        S: 250 2.1.5 Ok
        C: DATA
        S: 354 *
    """)
    for _ in range(20):
        await dialogue.send("x" * 98)
    await dialogue.play("""
        C: .
        S: 552 5.3.4 Message too big
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 250 2.1.0 Ok
        C: RCPT TO:<group1_2@JServer.NetLab>
        S: 250 2.1.5 Ok
        C: DATA
        S: 354 *
        C: small
        C: .
        S: 250 2.0.0 Ok: queued as *
    """)
    [stored] = await lab.messages("group1_2")
    assert stored.endswith(b"\r\n\r\nsmall\r\n")


async def test_too_many_recipients(smtp_lab_factory: SmtpLabFactory) -> None:
    lab = await smtp_lab_factory(limits=Limits(max_recipients=2))
    dialogue = await lab.connect()
    await dialogue.play("""
        C: HELO pc
        S: 250 *
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 250 2.1.0 Ok
        C: RCPT TO:<group1_1@JServer.NetLab>
        S: 250 2.1.5 Ok
        C: RCPT TO:<group1_2@JServer.NetLab>
        S: 250 2.1.5 Ok
        C: RCPT TO:<group1_3@JServer.NetLab>
        S: 452 4.5.3 Too many recipients
        C: DATA
        S: 354 *
        C: hi
        C: .
        S: 250 2.0.0 Ok: queued as *
    """)
    assert len(await lab.messages("group1_1")) == 1
    assert len(await lab.messages("group1_2")) == 1
    assert await lab.messages("group1_3") == []


async def test_alias_and_name_of_one_user_deliver_one_copy(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play("""
        C: HELO pc
        S: 250 *
        C: MAIL FROM:<>
        S: 250 2.1.0 Ok
        C: RCPT TO:<group1_2@JServer.NetLab>
        S: 250 2.1.5 Ok
        C: RCPT TO:<GROUP1_2@jserver.netlab.>
        S: 250 2.1.5 Ok
        C: RCPT TO:<group1_2>
        S: 250 2.1.5 Ok
        C: DATA
        S: 354 *
        C: hi
        C: .
        S: 250 2.0.0 Ok: queued as *
    """)
    [stored] = await smtp_lab.messages("group1_2")
    assert stored.startswith(b"Return-Path: <>\r\n")


async def test_bad_commands_end_the_session(smtp_lab_factory: SmtpLabFactory) -> None:
    lab = await smtp_lab_factory(limits=Limits(max_bad_commands=3))
    dialogue = await lab.connect()
    await dialogue.play("""
        C: FOO
        S: 500 *
        C: BAR
        S: 500 *
        C: NOOP
        S: 250 2.0.0 Ok
        C: MAIL FROM:<x@y>
        S: 503 *
        S: 421 4.7.0 Too many errors, closing connection
    """)
    assert await dialogue.closed()


async def test_connection_limit(smtp_lab_factory: SmtpLabFactory) -> None:
    lab = await smtp_lab_factory(limits=Limits(max_connections=1))
    first = await lab.connect()
    second = await lab.connect(greet=False)
    await second.expect("421 4.7.0 Too many connections, try again later")
    assert await second.closed()
    await first.play("""
        C: QUIT
        S: 221 2.0.0 Bye
    """)
    assert await first.closed()
    for _ in range(50):  # the slot is freed once the server has seen the close
        if not len(lab.sessions):
            break
        await asyncio.sleep(0.02)
    third = await lab.connect()
    await third.play("""
        C: NOOP
        S: 250 2.0.0 Ok
    """)


async def test_idle_timeout_says_421(smtp_lab_factory: SmtpLabFactory) -> None:
    lab = await smtp_lab_factory(timeouts=TimeoutSettings(smtp=0.3))
    dialogue = await lab.connect()
    await dialogue.expect("421 4.4.2 Idle timeout, closing connection")
    assert await dialogue.closed()


async def test_commands_move_the_idle_deadline(smtp_lab_factory: SmtpLabFactory) -> None:
    """The idle timer is re-armed lazily (protocol._reset_timeout): commands that
    come before each deadline keep the session, however long it lasts in all;
    then the first quiet stretch ends it."""
    lab = await smtp_lab_factory(timeouts=TimeoutSettings(smtp=1.5))
    dialogue = await lab.connect()
    started = time.monotonic()
    for _ in range(5):  # 5 x 0.5 s: past the first 1.5 s deadline
        await asyncio.sleep(0.5)
        await dialogue.play("""
            C: NOOP
            S: 250 2.0.0 Ok
        """)
    assert time.monotonic() - started > 2.4
    quiet = time.monotonic()
    await dialogue.expect("421 4.4.2 Idle timeout, closing connection")
    assert time.monotonic() - quiet >= 1.3


async def test_shutdown_says_421_to_idle_sessions(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play("""
        C: HELO pc
        S: 250 *
    """)
    await smtp_lab.sessions.shutdown(1.0)
    await dialogue.expect("421 4.3.2 Server shutting down, try again later")
    assert await dialogue.closed()


async def test_shutdown_lets_a_data_transfer_finish(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play(INTO_DATA)
    await dialogue.play("""
        C: Subject: in flight
        C:
    """)
    shutdown = asyncio.create_task(smtp_lab.sessions.shutdown(5.0))
    await asyncio.sleep(0.1)
    await dialogue.play("""
        C: still arriving
        C: .
        S: 250 2.0.0 Ok: queued as *
        S: 421 4.3.2 *
    """)
    await shutdown
    assert len(await smtp_lab.messages("group1_2")) == 1


async def test_a_client_that_leaves_mid_data_stores_nothing(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play(INTO_DATA)
    await dialogue.play("""
        C: Subject: cut short
        C:
        C: the first half
    """)
    await dialogue.close()
    await smtp_lab.sessions.shutdown(1.0)
    assert len(smtp_lab.sessions) == 0
    assert await smtp_lab.messages("group1_2") == []


async def test_storage_failure_gives_451_and_the_session_goes_on(smtp_lab: SmtpLab) -> None:
    # A plain file where the maildir should be: the real store cannot deliver.
    (smtp_lab.config.mail_dir / "group1_3").write_text("not a maildir")
    dialogue = await smtp_lab.connect()
    await dialogue.play("""
        C: HELO pc
        S: 250 *
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 250 *
        C: RCPT TO:<group1_3@JServer.NetLab>
        S: 250 *
        C: DATA
        S: 354 *
        C: hi
        C: .
        S: 451 4.3.0 Temporary failure, try again
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 250 *
        C: RCPT TO:<group1_2@JServer.NetLab>
        S: 250 *
        C: DATA
        S: 354 *
        C: hi
        C: .
        S: 250 2.0.0 Ok: queued as *
    """)


async def test_auth_rules(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play(f"""
        C: AUTH PLAIN {b64(chr(0) + "group1_1" + chr(0) + "group1_1")}
        S: 503 5.5.1 Error: send HELO/EHLO first
        C: HELO pc
        S: 250 *
        C: AUTH
        S: 501 5.5.4 Syntax: AUTH mechanism [initial-response]
        C: AUTH DIGEST-MD5
        S: 504 5.5.4 Unrecognized authentication type
        C: auth plain
        S: 334*
        C: *
        S: 501 5.7.0 Authentication cancelled
        C: auth login
        S: 334 VXNlcm5hbWU6
        C: group1_1
        S: 501 5.5.2 Invalid base64
        C: Auth Plain {b64(chr(0) + "group1_1" + chr(0) + "wrong")}
        S: 535 5.7.8 Authentication credentials invalid
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 250 *
        C: AUTH PLAIN {b64(chr(0) + "group1_1" + chr(0) + "group1_1")}
        S: 503 5.5.1 Error: AUTH not allowed during a mail transaction
        C: RSET
        S: 250 *
        C: AUTH PLAIN {b64(chr(0) + "group1_1" + chr(0) + "group1_1")}
        S: 235 2.7.0 Authentication successful
        C: AUTH LOGIN
        S: 503 5.5.1 Error: already authenticated
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 250 *
        C: RCPT TO:<someone@remote.example>
        S: 250 2.1.5 Ok
    """)


async def test_auth_needs_tls_when_plaintext_is_not_allowed(
    smtp_lab_factory: SmtpLabFactory,
) -> None:
    lab = await smtp_lab_factory(auth=AuthSettings(allow_plaintext_without_tls=False))
    dialogue = await lab.connect()
    await dialogue.play("""
        C: EHLO pc
        S: 250-JServer.NetLab
        S: 250-PIPELINING
        S: 250-SIZE 73400320
        S: 250-8BITMIME
        S: 250-ENHANCEDSTATUSCODES
        S: 250-SMTPUTF8
        S: 250-DSN
        S: 250-CHUNKING
        S: 250 BINARYMIME
        C: AUTH LOGIN
        S: 538 5.7.11 Encryption required for requested authentication mechanism
        C: NOOP
        S: 250 2.0.0 Ok
    """)


async def test_long_lines_in_data_are_stored_unchanged(smtp_lab: SmtpLab) -> None:
    """Only the message size limits a message (issue 10): a 100,000-octet line, far
    beyond RFC 5321's 998 and limits.max_line_length, is taken and kept as sent."""
    dialogue = await smtp_lab.connect()
    await dialogue.play(INTO_DATA)
    long_line = "y" * 5000
    await dialogue.send(long_line)
    await dialogue.play("""
        C: .
        S: 250 2.0.0 Ok: queued as *
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 250 *
        C: RCPT TO:<group1_2@JServer.NetLab>
        S: 250 *
        C: DATA
        S: 354 *
    """)
    huge_line = os.urandom(50_000).hex()
    await dialogue.send("Subject: long\r\n\r\n" + huge_line)
    await dialogue.play("""
        C: .
        S: 250 2.0.0 Ok: queued as *
        C: NOOP
        S: 250 2.0.0 Ok
    """)
    first, second = await smtp_lab.messages("group1_2")
    assert first.endswith(long_line.encode() + b"\r\n")
    assert second.endswith(b"\r\n\r\n" + huge_line.encode() + b"\r\n")


async def test_many_short_lines_are_held_in_one_buffer(smtp_lab: SmtpLab) -> None:
    """aiosmtpd kept one bytearray per DATA line, ~30 times the message size for
    empty lines (1.2 GB for 32 MiB); the server in this process must stay near it."""
    dialogue = await smtp_lab.connect()
    await dialogue.play(INTO_DATA)
    lines = 200_000
    tracemalloc.start()
    try:
        dialogue.writer.write(b"Subject: empty lines\r\n" + b"\r\n" * lines)
        await dialogue.play("""
            C: .
            S: 250 2.0.0 Ok: queued as *
        """)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The message is 400 kB; a few copies of it (client buffer, received text,
    # stored copy) fit easily, one object per line (about 13 MB) does not.
    assert peak < 4_000_000, f"peak {peak} bytes for a {2 * lines} byte message"
    [stored] = await smtp_lab.messages("group1_2")
    assert b"Subject: empty lines\r\n" in stored
    assert stored.endswith(b"\r\n" * lines)


async def test_overlong_command_line(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.send("NOOP " + "x" * 20_000)
    await dialogue.play("""
        S: 500 5.5.2 Error: command line too long
        C: NOOP
        S: 250 2.0.0 Ok
    """)


async def test_implicit_tls_listener(smtp_lab_factory: SmtpLabFactory) -> None:
    lab = await smtp_lab_factory(
        implicit_tls=True, auth=AuthSettings(allow_plaintext_without_tls=False)
    )
    dialogue = await lab.connect(tls=True)
    await dialogue.play(f"""
        C: EHLO pc
        S: 250-JServer.NetLab
        S: 250-PIPELINING
        S: 250-SIZE 73400320
        S: 250-AUTH PLAIN LOGIN CRAM-MD5
        S: 250-8BITMIME
        S: 250-ENHANCEDSTATUSCODES
        S: 250-SMTPUTF8
        S: 250-DSN
        S: 250-CHUNKING
        S: 250 BINARYMIME
        C: AUTH PLAIN {b64(chr(0) + "group1_1" + chr(0) + "group1_1")}
        S: 235 2.7.0 Authentication successful
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 250 2.1.0 Ok
        C: RCPT TO:<group1_2@JServer.NetLab>
        S: 250 2.1.5 Ok
        C: DATA
        S: 354 *
        C: over tls
        C: .
        S: 250 2.0.0 Ok: queued as *
    """)
    [stored] = await lab.messages("group1_2")
    assert b"with ESMTPSA id" in stored


async def test_smtputf8_and_8bit_body(smtp_lab: SmtpLab) -> None:
    dialogue = await smtp_lab.connect()
    await dialogue.play("""
        C: EHLO pc
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-*
        S: 250-SMTPUTF8
        S: 250-DSN
        S: 250-CHUNKING
        S: 250 BINARYMIME
        C: MAIL FROM:<rémy@exämple.org> SMTPUTF8 BODY=8BITMIME
        S: 250 2.1.0 Ok
        C: RCPT TO:<group1_2@JServer.NetLab>
        S: 250 2.1.5 Ok
        C: RCPT TO:<josé@JServer.NetLab>
        S: 550 5.1.1 <josé@JServer.NetLab>: Recipient address rejected: User unknown
        C: DATA
        S: 354 *
    """)
    await dialogue.send("Subject: café".encode())
    await dialogue.send(b"")
    await dialogue.send("naïve body".encode() + b" \xff\xfe")
    await dialogue.play("""
        C: .
        S: 250 2.0.0 Ok: queued as *
    """)
    [stored] = await smtp_lab.messages("group1_2")
    assert stored.startswith("Return-Path: <rémy@exämple.org>\r\n".encode())
    assert "Subject: café\r\n".encode() in stored
    assert b" with UTF8SMTP id " in stored  # RFC 6531 3.7.3
    assert stored.endswith("\r\n\r\nnaïve body".encode() + b" \xff\xfe\r\n")
