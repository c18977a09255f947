"""Exercises 1 and 2 typed byte for byte into a raw TCP connection, as students do."""

from __future__ import annotations

import email.policy
import socket

import pytest

from tests.integration.smtp.helpers import b64, connect, converse, delivered, raw_delivered
from tests.support.server import ServerProcess

EXERCISE_1 = [
    "HELO cslabc36",
    "MAIL FROM: <group1_1@JServer.NetLab>",
    "RCPT TO: <group1_1@JServer.NetLab>",
    "DATA",
]
EXERCISE_1_REPLIES = [
    "250 JServer.NetLab",
    "250 2.1.0 Ok",
    "250 2.1.5 Ok",
    "354 End data with <CR><LF>.<CR><LF>",
]
EXERCISE_1_MESSAGE = """\
Message-ID: <000001d2a1b2$c3d4e5f0$@cslabc36>
From: "group1_1" <group1_1@JServer.NetLab>
To: <group1_1@JServer.NetLab>
Subject: =?utf-8?B?5rWL6K+V6YKu5Lu2?=
Date: Mon, 6 Mar 2017 10:00:00 +0800
MIME-Version: 1.0
Content-Type: multipart/mixed;
\tboundary="----=_NextPart_000_0000_01D2A1B2.C3D4E5F0"
X-Priority: 3

This is a multi-part message in MIME format.

------=_NextPart_000_0000_01D2A1B2.C3D4E5F0
Content-Type: multipart/alternative;
\tboundary="----=_NextPart_001_0001_01D2A1B2.C3D4E5F0"


------=_NextPart_001_0001_01D2A1B2.C3D4E5F0
Content-Type: text/plain;
\tcharset="gbk"
Content-Transfer-Encoding: base64

xOO6ww==

------=_NextPart_001_0001_01D2A1B2.C3D4E5F0
Content-Type: text/html;
\tcharset="gbk"
Content-Transfer-Encoding: base64

PHA+xOO6wzwvcD4=

------=_NextPart_001_0001_01D2A1B2.C3D4E5F0--

------=_NextPart_000_0000_01D2A1B2.C3D4E5F0
Content-Type: application/octet-stream;
\tname="notes.txt"
Content-Transfer-Encoding: base64
Content-Disposition: attachment;
\tfilename="notes.txt"

bGFiIG5vdGVzCg==

------=_NextPart_000_0000_01D2A1B2.C3D4E5F0--
"""


def lower_verb(line: str) -> str:
    verb, sep, rest = line.partition(" ")
    if rest.upper().startswith(("FROM:", "TO:")):
        keyword, colon, tail = rest.partition(":")
        rest = keyword.lower() + colon + tail
    return verb.lower() + sep + rest


@pytest.mark.parametrize("lower", [False, True], ids=["upper", "lower"])
def test_exercise_1_mail_client_session(mail_server: ServerProcess, lower: bool) -> None:
    client = connect(mail_server)
    for command, reply in zip(EXERCISE_1, EXERCISE_1_REPLIES, strict=True):
        client.send(lower_verb(command) if lower else command)
        assert client.readline() == reply
    for line in EXERCISE_1_MESSAGE.splitlines():
        client.send(line)
    client.send(".")
    queued = client.expect("250 2.0.0 Ok: queued as ")
    client.send("quit" if lower else "QUIT")
    assert client.readline() == "221 2.0.0 Bye"
    with pytest.raises(EOFError):
        client.readline()
    client.close()

    [stored] = delivered(mail_server, "group1_1")
    message = email.message_from_bytes(stored.as_bytes(), policy=email.policy.default)
    assert message["Subject"] == "测试邮件"
    assert message["Return-Path"] == "<group1_1@JServer.NetLab>"
    received = str(message["Received"])
    assert received.startswith("from cslabc36 (")
    assert f"id {queued.rsplit(' ', 1)[1]}" in received
    assert "for <group1_1@JServer.NetLab>" in received
    attachment = next(iter(message.iter_attachments()))
    assert attachment.get_filename() == "notes.txt"
    assert attachment.get_content() == b"lab notes\n"
    alternative = next(message.iter_parts())
    assert [p.get_content() for p in alternative.iter_parts()] == ["你好", "<p>你好</p>"]


@pytest.mark.parametrize("lower", [False, True], ids=["upper", "lower"])
def test_exercise_2_auth_login_by_hand(mail_server: ServerProcess, lower: bool) -> None:
    client = connect(mail_server)
    transcript = f"""
        C: HELO somehost
        S: 250 JServer.NetLab
        C: {"auth login" if lower else "AUTH LOGIN"}
        S: 334 VXNlcm5hbWU6
        C: {b64("group1_2@JServer.NetLab")}
        S: 334 UGFzc3dvcmQ6
        C: {b64("group1_2")}
        S: 235 2.7.0 Authentication successful
        C: {"mail from" if lower else "MAIL FROM"}:<group1_2@JServer.NetLab>
        S: 250 2.1.0 Ok
        C: {"rcpt to" if lower else "RCPT TO"}:<group1_1@JServer.NetLab>
        S: 250 2.1.5 Ok
        C: {"rcpt to" if lower else "RCPT TO"}:<group1_3@JServer.NetLab>
        S: 250 2.1.5 Ok
        C: {"data" if lower else "DATA"}
        S: 354 End data with <CR><LF>.<CR><LF>
        C: From: nick <group1_2@JServer.NetLab>
        C: To: someone@JServer.NetLab
        C: Subject: Test mail 3
        C:
        C: This is a test mail!
        C: .
        S: 250 2.0.0 Ok: queued as
        C: {"quit" if lower else "QUIT"}
        S: 221 2.0.0 Bye
    """
    converse(client, transcript)
    client.close()
    for user in ("group1_1", "group1_3"):
        [stored] = delivered(mail_server, user)
        assert stored["Subject"] == "Test mail 3"
        assert stored["From"] == "nick <group1_2@JServer.NetLab>"
        assert "with ESMTPA id" in stored["Received"]
        assert stored.get_payload() == "This is a test mail!\n"


def test_bare_body_is_stored_well_formed(mail_server: ServerProcess) -> None:
    client = connect(mail_server)
    converse(
        client,
        """
        C: helo pc
        S: 250
        C: mail from:<group1_1@JServer.NetLab>
        S: 250 2.1.0
        C: rcpt to:<group1_2@JServer.NetLab>
        S: 250 2.1.5
        C: data
        S: 354
        C: myemail
        C: .
        S: 250 2.0.0 Ok: queued as
        """,
    )
    client.close()
    [stored] = delivered(mail_server, "group1_2")
    assert stored.get_payload() == "myemail\n"
    assert stored["From"] == "<group1_1@JServer.NetLab>"
    assert stored["Date"] and stored["Message-ID"]
    assert stored.defects == []
    [raw] = raw_delivered(mail_server, "group1_2")
    assert raw.endswith(b"\n\nmyemail\n") or raw.endswith(b"\r\n\r\nmyemail\r\n")


def test_garbage_instead_of_base64(mail_server: ServerProcess) -> None:
    client = connect(mail_server)
    converse(
        client,
        f"""
        C: HELO pc
        S: 250
        C: auth login
        S: 334 VXNlcm5hbWU6
        C: group1_1
        S: 501 5.5.2
        C: AUTH PLAIN this is not base64!
        S: 501 5.5.4
        C: AUTH PLAIN %%%%
        S: 501 5.5.2
        C: auth login
        S: 334 VXNlcm5hbWU6
        C: {b64("group1_1")}
        S: 334 UGFzc3dvcmQ6
        C: group1_1
        S: 501 5.5.2
        C: auth login
        S: 334 VXNlcm5hbWU6
        C: *
        S: 501 5.7.0
        C: AUTH LOGIN {b64("group1_1")}
        S: 334 UGFzc3dvcmQ6
        C: {b64("wrong")}
        S: 535 5.7.8 Authentication credentials invalid
        C: AUTH PLAIN {b64(chr(0) + "group1_1" + chr(0) + "group1_1")}
        S: 235 2.7.0 Authentication successful
        C: NOOP
        S: 250 2.0.0 Ok
        """,
    )
    client.close()


def test_pipelined_commands_in_one_packet(mail_server: ServerProcess) -> None:
    sock = socket.create_connection((mail_server.host, mail_server.ports["smtp"]), timeout=10)
    reader = sock.makefile("rb")
    assert reader.readline().startswith(b"220 ")
    sock.sendall(
        b"EHLO pc\r\nMAIL FROM:<group1_1@JServer.NetLab>\r\n"
        b"RCPT TO:<group1_2@JServer.NetLab>\r\nRCPT TO:<nobody@JServer.NetLab>\r\n"
        b"RCPT TO:<group1_3@JServer.NetLab>\r\nDATA\r\n"
    )
    lines = [reader.readline() for _ in range(16)]
    assert lines[11:] == [
        b"250 2.1.0 Ok\r\n",
        b"250 2.1.5 Ok\r\n",
        b"550 5.1.1 <nobody@JServer.NetLab>: Recipient address rejected: User unknown\r\n",
        b"250 2.1.5 Ok\r\n",
        b"354 End data with <CR><LF>.<CR><LF>\r\n",
    ]
    assert b"250-PIPELINING\r\n" in lines
    sock.sendall(b"Subject: piped\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    assert reader.readline().startswith(b"250 2.0.0 Ok: queued as ")
    assert reader.readline() == b"221 2.0.0 Bye\r\n"
    assert reader.readline() == b""
    sock.close()
    assert [m["Subject"] for m in delivered(mail_server, "group1_2")] == ["piped"]
    assert [m["Subject"] for m in delivered(mail_server, "group1_3")] == ["piped"]


def test_command_reply_codes(mail_server: ServerProcess) -> None:
    client = connect(mail_server)
    converse(
        client,
        """
        C: EHLO pc
        S: 250-JServer.NetLab
        S: 250-PIPELINING
        S: 250-SIZE
        S: 250-STARTTLS
        S: 250-AUTH PLAIN LOGIN CRAM-MD5
        S: 250-8BITMIME
        S: 250-ENHANCEDSTATUSCODES
        S: 250-SMTPUTF8
        S: 250-DSN
        S: 250-CHUNKING
        S: 250 BINARYMIME
        C: NOOP
        S: 250 2.0.0 Ok
        C: RSET
        S: 250 2.0.0 Ok
        C: VRFY group1_1
        S: 252 2.5.0
        C: EXPN list
        S: 502 5.5.1 EXPN not supported
        C: HELP
        S: 214 2.0.0 Commands: AUTH BDAT DATA EHLO EXPN HELO HELP MAIL NOOP QUIT RCPT RSET
        C: wrong command
        S: 500 5.5.2
        C: RCPT TO:<group1_1@JServer.NetLab>
        S: 503 5.5.1
        C: MAIL FROM:garbage<<
        S: 553 5.1.3
        C: QUIT
        S: 221 2.0.0 Bye
        """,
    )
    client.close()
