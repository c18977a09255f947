"""IMAP over TLS against the real server process: STARTTLS on the imap listener and
implicit TLS on imaps, with imaplib, ``openssl s_client -starttls imap`` and curl;
LOGINDISABLED before TLS when plaintext logins are off; the STARTTLS injection
case; TLS below 1.2 refused; and the login throttle fed with the client address."""

from __future__ import annotations

import base64
import contextlib
import imaplib
import socket
import ssl
from collections.abc import Callable, Iterator

import pytest

from tests.integration.imap.conftest import DEFAULT_LIST, LAB_MESSAGE, deliver
from tests.support.server import ServerProcess
from tests.support.tls import (
    assert_refused_by_server,
    recv_line,
    run,
    s_client_starttls,
    tls_client,
    trusting,
)

ServerFactory = Callable[..., ServerProcess]
LISTENERS = {
    "smtp": "127.0.0.1:0",
    "pop3": "127.0.0.1:0",
    "imap": "127.0.0.1:0",
    "imaps": "127.0.0.1:0",
}
TIMEOUT = 20.0
PLAIN_GROUP1_1 = base64.b64encode(b"\0group1_1\0group1_1").decode()


@pytest.fixture
def tls_server(server_factory: ServerFactory) -> Iterator[ServerProcess]:
    server = server_factory(listeners=LISTENERS)
    yield server
    assert "Traceback" not in server.log()


@pytest.fixture
def strict_server(server_factory: ServerFactory) -> Iterator[ServerProcess]:
    """Plaintext logins only under TLS, as the production example config has it."""
    server = server_factory(listeners=LISTENERS, auth={"allow_plaintext_without_tls": False})
    yield server
    assert "Traceback" not in server.log()


def imaps(server: ServerProcess) -> imaplib.IMAP4_SSL:
    return imaplib.IMAP4_SSL(
        server.host, server.ports["imaps"], ssl_context=trusting(server), timeout=TIMEOUT
    )


def capabilities(client: imaplib.IMAP4) -> set[str]:
    typ, data = client.capability()
    assert typ == "OK"
    return set((data[0] or b"").decode().split())


# ------------------------------------------------------------ imaplib


def test_imaps_with_imaplib(tls_server: ServerProcess) -> None:
    deliver(tls_server, [LAB_MESSAGE])
    client = imaps(tls_server)
    assert isinstance(client.sock, ssl.SSLSocket)
    assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
    caps = capabilities(client)
    assert "STARTTLS" not in caps and "AUTH=PLAIN" in caps and "IDLE" in caps
    client.login("group1_1", "group1_1")
    assert client.select("INBOX") == ("OK", [b"1"])
    typ, data = client.fetch("1", "(BODY.PEEK[])")
    assert typ == "OK" and data[0][1] == LAB_MESSAGE  # type: ignore[index]
    client.logout()


def test_starttls_with_imaplib(tls_server: ServerProcess) -> None:
    client = imaplib.IMAP4(tls_server.host, tls_server.ports["imap"], timeout=TIMEOUT)
    assert "STARTTLS" in capabilities(client)
    assert client.starttls(ssl_context=trusting(tls_server))[0] == "OK"
    assert "STARTTLS" not in capabilities(client)
    client.login("group1_2", "group1_2")
    assert client.select("INBOX")[0] == "OK"
    client.logout()
    assert "TLS established (TLSv1." in tls_server.log()


def test_starttls_twice_and_on_imaps_refused(tls_server: ServerProcess) -> None:
    client = imaplib.IMAP4(tls_server.host, tls_server.ports["imap"], timeout=TIMEOUT)
    client.starttls(ssl_context=trusting(tls_server))
    with pytest.raises(imaplib.IMAP4.error, match="TLS is already active"):
        client._simple_command("STARTTLS")
    client.logout()
    secure = imaps(tls_server)
    with pytest.raises(imaplib.IMAP4.error, match="TLS is already active"):
        secure._simple_command("STARTTLS")
    secure.logout()


# ------------------------------------------------------------- policy


def test_logindisabled_until_tls(strict_server: ServerProcess) -> None:
    plain = imaplib.IMAP4(strict_server.host, strict_server.ports["imap"], timeout=TIMEOUT)
    caps = capabilities(plain)
    assert "LOGINDISABLED" in caps and "STARTTLS" in caps
    assert not any(cap.startswith("AUTH=") for cap in caps)
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
        plain.login("group1_1", "group1_1")
    typ, data = plain._simple_command("AUTHENTICATE", "PLAIN", PLAIN_GROUP1_1)
    assert typ == "NO" and b"PRIVACYREQUIRED" in (data[0] or b"")
    assert plain.starttls(ssl_context=trusting(strict_server))[0] == "OK"
    caps = capabilities(plain)
    assert "LOGINDISABLED" not in caps and "AUTH=PLAIN" in caps
    assert plain.login("group1_1", "group1_1")[0] == "OK"
    plain.logout()
    secure = imaps(strict_server)
    assert "LOGINDISABLED" not in capabilities(secure)
    typ, _ = secure._simple_command("AUTHENTICATE", "PLAIN", PLAIN_GROUP1_1)
    assert typ == "OK"
    secure.logout()


def test_commands_pipelined_behind_starttls_are_not_executed(tls_server: ServerProcess) -> None:
    """The STARTTLS injection case: ``a STARTTLS\\r\\nb NOOP\\r\\n`` in one packet."""
    address = (tls_server.host, tls_server.ports["imap"])
    with socket.create_connection(address, TIMEOUT) as sock:
        assert recv_line(sock).startswith(b"* OK [CAPABILITY ")
        sock.sendall(b"a STARTTLS\r\nb LOGIN group1_1 group1_1\r\n")
        assert recv_line(sock) == b"a OK Begin TLS negotiation now\r\n"
        with trusting(tls_server).wrap_socket(sock) as tls:
            tls.sendall(b"c SELECT INBOX\r\nd LOGOUT\r\n")
            # Only our two commands are answered, and c finds no login: b was dropped.
            assert recv_line(tls) == b"c BAD Log in first\r\n"
            assert recv_line(tls) == b"* BYE Logging out\r\n"
            assert recv_line(tls) == b"d OK Logout completed\r\n"


# ---------------------------------------------------------- versions


def test_tls_below_1_2_refused(tls_server: ServerProcess) -> None:
    address = (tls_server.host, tls_server.ports["imaps"])
    with socket.create_connection(address, TIMEOUT) as sock:
        assert_refused_by_server(
            lambda: tls_client(ssl.TLSVersion.TLSv1_1).wrap_socket(sock), imaplib.IMAP4.abort
        )
    with (
        socket.create_connection(address, TIMEOUT) as sock,
        tls_client(ssl.TLSVersion.TLSv1_2).wrap_socket(sock) as tls,
    ):
        assert tls.version() == "TLSv1.2"
        assert recv_line(tls).startswith(b"* OK [CAPABILITY IMAP4rev1")
    plain = imaplib.IMAP4(tls_server.host, tls_server.ports["imap"], timeout=TIMEOUT)
    assert_refused_by_server(
        lambda: plain.starttls(ssl_context=tls_client(ssl.TLSVersion.TLSv1_1)), imaplib.IMAP4.abort
    )
    with contextlib.suppress(OSError):
        plain.shutdown()
    assert "TLS handshake failed" in tls_server.log()


# ------------------------------------------------------ real clients


@pytest.mark.external
def test_openssl_s_client_starttls_imap(tls_server: ServerProcess) -> None:
    deliver(tls_server, [LAB_MESSAGE])
    typed = "a1 LOGIN group1_1 group1_1\na2 SELECT INBOX\na3 FETCH 1 (FLAGS)\na4 LOGOUT\n"
    result = s_client_starttls(tls_server, "imap", "imap", typed)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    lines = result.stdout.decode().split("\r\n")
    assert any(line.startswith("a1 OK [CAPABILITY IMAP4rev1") for line in lines), lines
    assert "a2 OK [READ-WRITE] Select completed" in lines
    assert "* 1 FETCH (FLAGS (\\Recent))" in lines
    assert lines[-3:] == ["* BYE Logging out", "a4 OK Logout completed", ""]


@pytest.mark.external
@pytest.mark.parametrize(("scheme", "listener"), [("imap", "imap"), ("imaps", "imaps")])
def test_curl_reads_mail_over_tls(tls_server: ServerProcess, scheme: str, listener: str) -> None:
    """``curl --ssl-reqd -k imap://...`` and ``curl -k imaps://...`` as students type them."""
    deliver(tls_server, [LAB_MESSAGE])
    options = ["--ssl-reqd"] if scheme == "imap" else []
    base = f"{scheme}://127.0.0.1:{tls_server.ports[listener]}"
    common = ["curl", "-s", "-S", "-k", *options, "-u", "group1_1:group1_1"]
    listing = run([*common, f"{base}/"])
    assert listing.returncode == 0, listing.stderr.decode(errors="replace")
    assert listing.stdout == b"".join(DEFAULT_LIST)
    message = run([*common, f"{base}/INBOX;UID=1"])
    assert message.returncode == 0, message.stderr.decode(errors="replace")
    assert message.stdout == LAB_MESSAGE


# ------------------------------------------------------------ throttle


def test_repeated_bad_passwords_block_the_address(server_factory: ServerFactory) -> None:
    server = server_factory(
        auth={
            "free_failures": 1,
            "failure_delay": 0.2,
            "block_after_failures": 4,
            "block_seconds": 60,
        }
    )
    client = imaplib.IMAP4(server.host, server.ports["imap"], timeout=TIMEOUT)
    for n in range(4):
        tag = f"b{n}"
        typ, data = client._simple_command("LOGIN", "group1_1", f"wrong{n}")
        assert typ == "NO" and b"AUTHENTICATIONFAILED" in (data[0] or b""), (tag, data)
    # Blocked now: even the right password (LOGIN or AUTHENTICATE) is refused,
    # as a temporary refusal naming the wait, not as a wrong password.
    typ, data = client._simple_command("LOGIN", "group1_1", "group1_1")
    assert typ == "NO" and b"[UNAVAILABLE]" in (data[0] or b"") and b"seconds" in data[0]
    typ, data = client._simple_command("AUTHENTICATE", "PLAIN", PLAIN_GROUP1_1)
    assert typ == "NO" and b"[UNAVAILABLE]" in (data[0] or b"")
    client.logout()
    again = imaplib.IMAP4(server.host, server.ports["imap"], timeout=TIMEOUT)
    with pytest.raises(imaplib.IMAP4.error, match="UNAVAILABLE"):
        again.login("group1_2", "group1_2")
    assert "login from 127.0.0.1 refused: address blocked" in server.log()
    again.shutdown()
    assert "Traceback" not in server.log()
