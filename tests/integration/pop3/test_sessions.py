"""Maildrop semantics over real sockets: locks, drops, snapshots, restarts, limits."""

from __future__ import annotations

import poplib
import time
from collections.abc import Callable

import pytest

from tests.integration.pop3.conftest import RawPop3, deliver, inbox, make_message
from tests.support.server import ServerProcess


def login(server: ServerProcess, user: str = "group1_1") -> poplib.POP3:
    client = poplib.POP3(server.host, server.ports["pop3"], timeout=30)
    client.user(user)
    client.pass_(user)
    return client


def test_dropped_connection_after_dele_deletes_nothing(mail_server: ServerProcess) -> None:
    deliver(mail_server, "group1_1", [make_message(1), make_message(2)])
    raw = RawPop3(mail_server.ports["pop3"])
    raw.line()
    for command in ("USER group1_1", "PASS group1_1", "DELE 1", "DELE 2"):
        raw.send(command)
        raw.expect(r"\+OK.*")
    raw.close()  # no QUIT
    # The server releases the lock when it sees the drop; poll until a new login works.
    deadline = time.monotonic() + 10
    while True:
        try:
            client = login(mail_server)
            break
        except poplib.error_proto as exc:
            assert b"[IN-USE]" in exc.args[0]
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert client.stat()[0] == 2
    client.quit()
    assert len(inbox(mail_server).messages) == 2


def test_second_concurrent_login_gets_in_use(mail_server: ServerProcess) -> None:
    deliver(mail_server, "group1_1", [make_message(1)])
    first = login(mail_server)
    second = poplib.POP3(mail_server.host, mail_server.ports["pop3"], timeout=30)
    second.user("group1_1@JServer.NetLab")
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\] mailbox already locked"):
        second.pass_("group1_1")
    # Another user is not affected, and the refused session may still log in elsewhere.
    second.user("group1_2")
    assert second.pass_("group1_2").startswith(b"+OK")
    second.quit()
    first.dele(1)
    first.quit()
    assert inbox(mail_server).messages == ()


def test_mail_delivered_during_a_session_appears_at_next_login(
    mail_server: ServerProcess,
) -> None:
    deliver(mail_server, "group1_1", [make_message(1)])
    client = login(mail_server)
    deliver(mail_server, "group1_1", [make_message(2)])
    assert client.stat()[0] == 1
    client.dele(1)
    client.quit()
    client = login(mail_server)
    assert client.stat()[0] == 1
    assert b"Subject: Test mail 2" in client.retr(1)[1]
    client.quit()


def test_uidl_survives_a_restart(mail_server: ServerProcess) -> None:
    deliver(mail_server, "group1_1", [make_message(n) for n in range(1, 4)])
    client = login(mail_server)
    before = client.uidl()[1]
    client.dele(2)
    client.quit()
    mail_server.stop()
    mail_server.start()
    client = login(mail_server)
    after = client.uidl()[1]
    client.quit()
    ids_before = [line.split()[1] for line in before]
    ids_after = [line.split()[1] for line in after]
    assert ids_after == [ids_before[0], ids_before[2]]


def test_a_thousand_messages(mail_server: ServerProcess) -> None:
    messages = [make_message(n) for n in range(1, 1001)]
    deliver(mail_server, "group1_1", messages)
    client = login(mail_server)
    count, size = client.stat()
    assert (count, size) == (1000, sum(len(m) for m in messages))
    listing = client.list()[1]
    uids = client.uidl()[1]
    assert len(listing) == len(uids) == 1000
    assert sum(int(line.split()[1]) for line in listing) == size
    assert [line.split()[0] for line in listing] == [line.split()[0] for line in uids]
    assert len({line.split()[1] for line in uids}) == 1000
    _response, lines, _ = client.retr(1000)
    assert b"\r\n".join(lines) + b"\r\n" == messages[-1]
    client.quit()


def test_twenty_megabyte_retr(mail_server: ServerProcess) -> None:
    line = b"0123456789" * 7 + b"\r\n"
    body = line * (20 * 1024 * 1024 // len(line))
    message = make_message(1, body)
    deliver(mail_server, "group1_1", [message])
    raw = RawPop3(mail_server.ports["pop3"], timeout=60)
    raw.line()
    raw.send("USER group1_1")
    raw.line()
    raw.send("PASS group1_1")
    raw.expect(rf"\+OK 1 message \({len(message)} octets\)")
    raw.send("RETR 1")
    raw.expect(rf"\+OK {len(message)} octets")
    assert raw.multiline() == message
    raw.send("QUIT")
    raw.expect(r"\+OK")
    raw.close()


def test_idle_timeout_closes_with_err_and_deletes_nothing(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory(timeouts={"pop3": 1})
    deliver(server, "group1_1", [make_message(1)])
    raw = RawPop3(server.ports["pop3"])
    raw.line()
    raw.send("USER group1_1")
    raw.line()
    raw.send("PASS group1_1")
    raw.line()
    raw.send("DELE 1")
    raw.expect(r"\+OK.*")
    raw.expect(r"-ERR \[SYS/TEMP\] autologout: idle for too long")
    assert raw.closed()
    raw.close()
    assert len(inbox(server).messages) == 1


def test_plaintext_logins_refused_when_configured(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory(auth={"allow_plaintext_without_tls": False})
    client = poplib.POP3(server.host, server.ports["pop3"], timeout=30)
    caps = client.capa()
    assert "USER" not in caps
    assert "SASL" not in caps
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] plaintext"):
        client.user("group1_1")
    assert client.apop("group1_1", "group1_1").startswith(b"+OK")
    client.quit()


def test_graceful_stop_says_goodbye(mail_server: ServerProcess) -> None:
    deliver(mail_server, "group1_1", [make_message(1)])
    raw = RawPop3(mail_server.ports["pop3"])
    raw.line()
    raw.send("USER group1_1")
    raw.line()
    raw.send("PASS group1_1")
    raw.line()
    raw.send("DELE 1")
    raw.line()
    assert mail_server.stop() == 0
    raw.expect(r"-ERR \[SYS/TEMP\] server shutting down.*")
    raw.close()
    assert len(inbox(mail_server).messages) == 1


def test_too_many_bad_commands(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(limits={"max_bad_commands": 3})
    raw = RawPop3(server.ports["pop3"])
    raw.line()
    for _ in range(2):
        raw.send("bogus")
        raw.expect(r"-ERR unknown command")
    raw.send("bogus")
    raw.expect(r"-ERR unknown command")  # the third is answered, then the goodbye
    raw.expect(r"-ERR too many bad commands.*")
    assert raw.closed()
    raw.close()
