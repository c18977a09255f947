"""Several sessions on one mailbox, new mail at NOOP, limits, timeouts and shutdown."""

from __future__ import annotations

import imaplib
import smtplib
import socket
import ssl
from collections.abc import Callable

import pytest

from tests.integration.imap.conftest import RawImap, deliver, make_message, snapshot
from tests.support.server import ServerProcess


def connect(server: ServerProcess, user: str = "group1_1") -> RawImap:
    client = RawImap(server.host, server.ports["imap"])
    client.response_line()
    client.ok(f"l LOGIN {user} {user}")
    return client


def selected(server: ServerProcess, mailbox: str = "INBOX") -> RawImap:
    client = connect(server)
    client.ok(f"s SELECT {mailbox}")
    return client


def test_new_mail_appears_at_noop(mail_server: ServerProcess) -> None:
    deliver(mail_server, [make_message(1)])
    client = selected(mail_server)
    deliver(mail_server, [make_message(2), make_message(3)])
    assert client.ok("n1 NOOP") == [b"* 3 EXISTS\r\n", b"* 3 RECENT\r\n"]
    assert client.ok("n2 NOOP") == []
    fetched = client.ok("f FETCH 3 (UID FLAGS)")
    assert fetched == [b"* 3 FETCH (UID 3 FLAGS (\\Recent))\r\n"]
    client.close()


def test_two_sessions_see_each_others_changes(mail_server: ServerProcess) -> None:
    deliver(mail_server, [make_message(1), make_message(2), make_message(3)])
    first = selected(mail_server)
    second = selected(mail_server)
    # Only the first SELECT got them as \Recent.
    assert first.ok("a FETCH 1 FLAGS") == [b"* 1 FETCH (FLAGS (\\Recent))\r\n"]
    assert second.ok("a FETCH 1 FLAGS") == [b"* 1 FETCH (FLAGS ())\r\n"]

    # Read in one client, read in all.
    first.ok("b STORE 2 +FLAGS.SILENT (\\Seen)")
    assert second.ok("b NOOP") == [b"* 2 FETCH (FLAGS (\\Seen))\r\n"]

    # An expunge elsewhere is not announced during FETCH/STORE/SEARCH ...
    first.ok("c STORE 1 +FLAGS.SILENT (\\Deleted)")
    first.ok("d EXPUNGE")
    during_fetch = second.command("e FETCH 1:3 (UID)")
    assert not any(line.endswith(b" EXPUNGE\r\n") for line in during_fetch), during_fetch
    # RFC 2180 4.1.2 / RFC 9051 7.1: message 1 is gone; answered OK as Dovecot does
    # (the perf branch's choice, README "IMAP: sorting, threads and search extensions").
    assert during_fetch[-1] == b"e OK [EXPUNGEISSUED] Some messages were already expunged\r\n"
    assert b"* 2 FETCH (UID 2)\r\n" in during_fetch
    assert second.ok("f SEARCH ALL") == [b"* SEARCH 2 3\r\n"]
    # ... but at NOOP, with the sequence numbers it implies.
    assert second.ok("g NOOP") == [b"* 1 EXPUNGE\r\n"]
    assert second.ok("h FETCH 1 UID") == [b"* 1 FETCH (UID 2)\r\n"]
    # UID commands may report it right away.
    second.ok("i STORE 1 +FLAGS.SILENT (\\Deleted)")
    second.ok("j EXPUNGE")
    assert first.ok("k UID FETCH 1:* UID") == [
        b"* 1 EXPUNGE\r\n",
        b"* 1 FETCH (UID 3)\r\n",
    ]
    first.close()
    second.close()


def test_copy_into_selected_folder_of_other_session(mail_server: ServerProcess) -> None:
    deliver(mail_server, [make_message(1)])
    mover = connect(mail_server)
    # Archive is one of the server's default folders: it is already there.
    assert mover.command("c CREATE Archive") == [b"c NO [ALREADYEXISTS] folder already exists\r\n"]
    watcher = selected(mail_server, "Archive")
    mover.ok("s SELECT INBOX")
    mover.ok("m COPY 1 Archive")
    assert watcher.ok("n CHECK") == [b"* 1 EXISTS\r\n", b"* 1 RECENT\r\n"]
    mover.close()
    watcher.close()


def test_literals_and_literal_plus(mail_server: ServerProcess) -> None:
    client = RawImap(mail_server.host, mail_server.ports["imap"])
    client.response_line()
    client.send("a1 LOGIN {8}")
    assert client.readline() == "+ Ready for literal data"
    client.send_raw(b"group1_1 {8+}\r\ngroup1_1\r\n")
    assert client.readline().startswith("a1 OK")
    message = make_message(7)
    client.send_raw(b"a2 APPEND INBOX (\\Flagged) {%d+}\r\n" % len(message) + message + b"\r\n")
    assert client.readline().startswith("a2 OK [APPENDUID ")
    client.send(b"a3 APPEND INBOX {%d}" % len(message))
    assert client.readline() == "+ Ready for literal data"
    client.send_raw(message + b"\r\n")
    assert client.readline().startswith("a3 OK [APPENDUID ")
    stored = snapshot(mail_server).messages
    assert len(stored) == 2 and stored[0].flags == frozenset({"\\Flagged"})
    client.close()


def test_limits_keep_the_connection_usable(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(
        limits={
            "max_line_length": 200,
            "imap_max_line_length": 200,
            "max_literal_size": 100,
            "max_message_size": 1000,
        }
    )
    client = connect(server)
    client.send("a1 NOOP " + "x" * 500)
    assert client.readline() == "a1 BAD [TOOBIG] Command line too long"
    client.send("y" * 500)  # no tag to be sure of
    assert client.readline() == "* BAD [TOOBIG] Command line too long"
    client.send("a2 LOGIN {500}")
    assert client.readline() == "a2 BAD [TOOBIG] Literal too large"
    client.send("a3 APPEND INBOX {5000}")
    assert client.readline() == "a3 NO [TOOBIG] Message too large"
    # A non-synchronizing literal that is too big is read and thrown away.
    client.send_raw(b"a4 APPEND INBOX {2000+}\r\n" + b"y" * 2000 + b"\r\n")
    assert client.readline() == "a4 NO [TOOBIG] Message too large"
    client.send("a5 NOOP")
    assert client.readline() == "a5 OK Noop completed"
    fits = b"Subject: x\r\n\r\n" + b"z" * 880
    client.send_raw(b"a6 APPEND INBOX {%d+}\r\n" % len(fits) + fits + b"\r\n")
    assert client.readline().startswith("a6 OK [APPENDUID ")
    assert len(snapshot(server).messages) == 1
    client.close()


def test_too_many_bad_commands(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(limits={"max_bad_commands": 3})
    client = RawImap(server.host, server.ports["imap"])
    client.response_line()
    client.send("a1 FOO")
    assert client.readline() == "a1 BAD Unknown command"
    client.send("a2 NOOP")
    assert client.readline() == "a2 OK Noop completed"  # the count is of BADs in a row
    for n in range(3):
        client.send(f"b{n} FOO")
        assert client.readline() == f"b{n} BAD Unknown command"
    assert client.readline() == "* BYE Too many invalid commands"
    with pytest.raises(EOFError):
        client.readline()
    client.close()


def test_idle_timeout(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(timeouts={"imap": 1})
    client = RawImap(server.host, server.ports["imap"])
    client.response_line()
    assert client.readline() == "* BYE Autologout; idle for too long"
    with pytest.raises(EOFError):
        client.readline()
    client.close()


def test_connection_limit(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(limits={"max_connections_per_ip": 1})
    first = RawImap(server.host, server.ports["imap"])
    first.response_line()
    second = RawImap(server.host, server.ports["imap"])
    assert second.readline() == "* BYE Too many connections"
    second.close()
    first.close()


def test_shutdown_says_bye(mail_server: ServerProcess) -> None:
    client = connect(mail_server)
    mail_server.stop()
    assert client.readline() == "* BYE Server shutting down"
    client.close()


def test_plaintext_login_disabled_without_tls(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(auth={"allow_plaintext_without_tls": False})
    client = RawImap(server.host, server.ports["imap"])
    greeting = client.readline()
    assert "LOGINDISABLED" in greeting and "AUTH=PLAIN" not in greeting
    client.send("a LOGIN group1_1 group1_1")
    assert (
        client.readline()
        == "a NO [PRIVACYREQUIRED] Plaintext authentication disallowed without TLS"
    )
    client.close()


def test_malformed_message_does_not_break_the_session(mail_server: ServerProcess) -> None:
    broken = (
        b"Content-Type: multipart/mixed; boundary=\r\nSubject: =?bogus?Q?x\r\n"
        b"From: <<<@@@>>>\r\nDate: yesterday\r\n\r\n--\r\n\xff\xfe\x00 junk\r\n"
    )
    deliver(mail_server, [broken, make_message(2)])
    client = selected(mail_server)
    for item in ("ENVELOPE", "BODYSTRUCTURE", "BODY", "BODY.PEEK[1]", "BODY.PEEK[1.MIME]"):
        lines = client.ok(f"f UID FETCH 1 ({item})")
        assert lines and lines[0].startswith(b"* 1 FETCH (UID 1 ")
    assert client.ok("s SEARCH TEXT junk SENTSINCE 1-Jan-2000") == [b"* SEARCH\r\n"]
    assert client.ok("t FETCH 2 (UID)") == [b"* 2 FETCH (UID 2)\r\n"]
    client.close()


def test_starttls_then_login(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(auth={"allow_plaintext_without_tls": False})
    client = imaplib.IMAP4(server.host, server.ports["imap"], timeout=20)
    assert "STARTTLS" in client.capabilities and "LOGINDISABLED" in client.capabilities
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    client.starttls(context)
    assert "STARTTLS" not in client.capabilities
    assert "AUTH=PLAIN" in client.capabilities and "LOGINDISABLED" not in client.capabilities
    assert client.login("group1_1", "group1_1")[0] == "OK"
    assert client.select("INBOX")[0] == "OK"
    with pytest.raises(imaplib.IMAP4.error):
        client._simple_command("STARTTLS")
    client.logout()


def test_commands_pipelined_behind_starttls_are_dropped(mail_server: ServerProcess) -> None:
    raw = socket.create_connection((mail_server.host, mail_server.ports["imap"]), timeout=10)
    reader = raw.makefile("rb")
    assert reader.readline().startswith(b"* OK")
    raw.sendall(b"a STARTTLS\r\nb LOGIN group1_1 group1_1\r\n")
    assert reader.readline() == b"a OK Begin TLS negotiation now\r\n"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    tls = context.wrap_socket(raw, server_hostname=mail_server.host)
    tls_reader = tls.makefile("rb")
    tls.sendall(b"c NOOP\r\n")
    # "b LOGIN" sent in plaintext before the handshake never ran.
    assert tls_reader.readline() == b"c OK Noop completed\r\n"
    tls.sendall(b"d SELECT INBOX\r\n")
    assert tls_reader.readline() == b"d BAD Log in first\r\n"
    tls.close()


def test_mail_sent_over_smtp_appears_at_noop(mail_server: ServerProcess) -> None:
    client = selected(mail_server)
    with smtplib.SMTP(mail_server.host, mail_server.ports["smtp"], timeout=20) as smtp:
        smtp.sendmail(
            "group1_2@JServer.NetLab",
            ["group1_1@JServer.NetLab"],
            make_message(1, subject="over SMTP"),
        )
    assert client.ok("n NOOP") == [b"* 1 EXISTS\r\n", b"* 1 RECENT\r\n"]
    assert client.ok('s SEARCH SUBJECT "over SMTP"') == [b"* SEARCH 1\r\n"]
    client.close()


def test_selected_folder_deleted_by_another_session(mail_server: ServerProcess) -> None:
    deliver(mail_server, [make_message(1)], folder="INBOX")
    owner = connect(mail_server)
    owner.ok("c CREATE Work")
    owner.ok("s SELECT Work")
    other = connect(mail_server)
    other.ok("d DELETE Work")
    assert owner.command("n NOOP")[-1].startswith(b"n ")
    assert owner.command("f FETCH 1:* FLAGS")[-1].startswith(b"f ")
    assert owner.command("x EXPUNGE")[-1].startswith(b"x NO")
    owner.ok("s2 SELECT INBOX")
    owner.close()
    other.close()


def test_close_after_selected_folder_was_deleted(mail_server: ServerProcess) -> None:
    """RFC 3501 6.4.2: CLOSE always ends in the authenticated state; OK and BAD are its
    only results. With the folder gone there is nothing left to expunge."""
    owner = connect(mail_server)
    owner.ok("c CREATE Gone")
    owner.ok("a APPEND Gone (\\Deleted) {3+}\r\nabc")
    owner.ok("s SELECT Gone")
    other = connect(mail_server)
    other.ok("d DELETE Gone")
    assert owner.command("x CLOSE")[-1] == b"x OK Close completed\r\n"
    assert owner.command("f FETCH 1 FLAGS") == [b"f BAD No mailbox selected\r\n"]
    owner.close()
    other.close()
