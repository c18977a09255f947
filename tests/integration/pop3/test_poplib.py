"""Every POP3 command through Python's poplib, the way a scripted client uses them."""

from __future__ import annotations

import hashlib
import poplib

import pytest

from tests.integration.pop3.conftest import deliver, inbox, make_message
from tests.support.server import ServerProcess


def connect(server: ServerProcess) -> poplib.POP3:
    return poplib.POP3(server.host, server.ports["pop3"], timeout=20)


def test_every_command(mail_server: ServerProcess) -> None:
    messages = [make_message(n) for n in range(1, 4)]
    deliver(mail_server, "group1_1", messages)
    sizes = [len(m) for m in messages]

    client = connect(mail_server)
    assert client.getwelcome().startswith(b"+OK POP3 server ready <")
    caps = client.capa()
    assert {"TOP", "UIDL", "USER", "SASL", "RESP-CODES", "PIPELINING"} <= set(caps)
    assert caps["SASL"] == ["PLAIN", "LOGIN"]
    assert caps["IMPLEMENTATION"] == ["mailserver"]
    assert client.user("group1_1").startswith(b"+OK")
    assert client.pass_("group1_1") == f"+OK 3 messages ({sum(sizes)} octets)".encode()
    assert client.stat() == (3, sum(sizes))

    response, listing, _ = client.list()
    assert listing == [f"{n} {s}".encode() for n, s in enumerate(sizes, start=1)]
    assert client.list(2) == f"+OK 2 {sizes[1]}".encode()

    response, uids, _ = client.uidl()
    assert response == b"+OK"
    single = client.uidl(3)
    assert single.split(b" ", 1)[1] == uids[2]

    response, lines, _octets = client.retr(1)
    assert response == f"+OK {sizes[0]} octets".encode()
    assert b"\r\n".join(lines) + b"\r\n" == messages[0]

    response, lines, _ = client.top(2, 0)
    assert b"Subject: Test mail 2" in lines
    assert lines[-1] == b""

    assert client.noop() == b"+OK"
    assert client.dele(1).startswith(b"+OK")
    with pytest.raises(poplib.error_proto, match="already deleted"):
        client.retr(1)
    with pytest.raises(poplib.error_proto, match="no such message"):
        client.retr(99999)
    assert client.rset().startswith(b"+OK")
    assert client.stat() == (3, sum(sizes))
    client.dele(2)
    client.dele(3)
    assert client.quit() == b"+OK"

    left = inbox(mail_server)
    assert [m.size for m in left.messages] == [sizes[0]]


def test_apop_and_errors(mail_server: ServerProcess) -> None:
    client = connect(mail_server)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        client.apop("bob", "bob-secret-pw")  # no plaintext-equivalent secret stored
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        client.apop("group1_1", "wrong")
    assert client.apop("group1_1", "group1_1").startswith(b"+OK")
    client.quit()


def test_apop_digest_is_what_rfc1939_says(mail_server: ServerProcess) -> None:
    client = connect(mail_server)
    banner = client.getwelcome().decode().split(" ")[-1]
    digest = hashlib.md5((banner + "group1_2").encode()).hexdigest()
    assert client._shortcmd(f"APOP group1_2 {digest}").startswith(b"+OK")  # type: ignore[attr-defined]
    client.quit()


def test_hash_only_user_logs_in_with_user_pass(mail_server: ServerProcess) -> None:
    client = connect(mail_server)
    client.user("bob")
    assert client.pass_("bob-secret-pw").startswith(b"+OK")
    client.quit()


def test_wrong_password(mail_server: ServerProcess) -> None:
    client = connect(mail_server)
    client.user("group1_1")
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\] authentication failed"):
        client.pass_("nope")
    client.quit()


def test_dot_lines_and_a_100kb_line(
    mail_server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    dots = make_message(1, b".\r\n..\r\n.leading dot\r\nmiddle . dot\r\n...\r\n")
    long_line = make_message(2, b"A" * 100_000 + b"\r\n.B" + b"C" * 50_000 + b"\r\nend\r\n")
    deliver(mail_server, "group1_1", [dots, long_line])
    monkeypatch.setattr(poplib, "_MAXLINE", 1 << 20)  # poplib refuses lines over 2048 octets
    client = connect(mail_server)
    client.user("group1_1")
    client.pass_("group1_1")
    assert client.list()[1] == [f"1 {len(dots)}".encode(), f"2 {len(long_line)}".encode()]
    response, lines, _ = client.retr(1)
    assert b"\r\n".join(lines) + b"\r\n" == dots
    response, lines, _ = client.retr(2)
    assert response == f"+OK {len(long_line)} octets".encode()
    assert b"\r\n".join(lines) + b"\r\n" == long_line
    client.quit()


def test_retr_marks_seen_and_top_does_not(mail_server: ServerProcess) -> None:
    deliver(mail_server, "group1_1", [make_message(1), make_message(2)])
    client = connect(mail_server)
    client.user("group1_1")
    client.pass_("group1_1")
    client.retr(1)
    client.top(2, 5)
    client.quit()
    first, second = inbox(mail_server).messages
    assert "\\Seen" in first.flags
    assert "\\Seen" not in second.flags
