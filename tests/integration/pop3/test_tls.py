"""POP3 over TLS against the real server process (uvloop): STLS on 110, implicit TLS on 995.

Clients: Python's poplib, ``openssl s_client -starttls pop3`` and curl, as
students use them. Certificates are checked against the server's own
self-signed certificate (``data_dir/tls/cert.pem``) wherever the client can
name the host ``JServer.NetLab``; poplib can only name ``127.0.0.1``, so
there the chain is verified but not the host name.
"""

from __future__ import annotations

import contextlib
import poplib
import socket
import ssl
import subprocess
from collections.abc import Callable
from typing import Any, cast

import pytest

from tests.integration.pop3.conftest import deliver, inbox, make_message
from tests.support.server import HOSTNAME, ServerProcess
from tests.support.tls import (
    assert_refused_by_server,
    certificate,
    recv_line,
    run,
    s_client_starttls,
    tls_client,
    trusting,
)

ServerFactory = Callable[..., ServerProcess]
TLS_LISTENERS = {"pop3": "127.0.0.1:0", "pop3s": "127.0.0.1:0", "smtp": "127.0.0.1:0"}
TIMEOUT = 20.0


@pytest.fixture
def tls_server(server_factory: ServerFactory) -> ServerProcess:
    """The minimal config plus an implicit-TLS ``pop3s`` listener."""
    return server_factory(listeners=TLS_LISTENERS)


def stls(server: ServerProcess) -> poplib.POP3:
    client = poplib.POP3(server.host, server.ports["pop3"], timeout=TIMEOUT)
    assert "STLS" in client.capa()
    assert client.stls(trusting(server)) == b"+OK Begin TLS negotiation"
    return client


def pop3s(server: ServerProcess) -> poplib.POP3_SSL:
    return poplib.POP3_SSL(
        server.host, server.ports["pop3s"], timeout=TIMEOUT, context=trusting(server)
    )


def exercise_3(client: poplib.POP3, messages: list[bytes]) -> None:
    """The lab's POP3 exercise: log in, look around, read one, delete one, quit."""
    sizes = [len(m) for m in messages]
    assert client.user("group1_1") == b"+OK"
    assert client.pass_("group1_1") == f"+OK 2 messages ({sum(sizes)} octets)".encode()
    assert client.stat() == (2, sum(sizes))
    assert client.list()[1] == [f"1 {sizes[0]}".encode(), f"2 {sizes[1]}".encode()]
    assert len(client.uidl()[1]) == 2
    assert b"\r\n".join(client.top(1, 0)[1]).startswith(b"From: nick")
    assert b"\r\n".join(client.retr(1)[1]) + b"\r\n" == messages[0]
    assert client.dele(1).startswith(b"+OK")
    assert client.quit() == b"+OK"


def test_exercise_3_over_stls(tls_server: ServerProcess) -> None:
    messages = [make_message(1), make_message(2, b".leading dot\r\n")]
    deliver(tls_server, "group1_1", messages)
    client = stls(tls_server)
    capabilities = client.capa()
    assert "STLS" not in capabilities
    assert "USER" in capabilities
    exercise_3(client, messages)
    assert len(inbox(tls_server).messages) == 1
    assert "TLS established (TLSv1." in tls_server.log()


def test_exercise_3_over_implicit_tls(tls_server: ServerProcess) -> None:
    messages = [make_message(1), make_message(2)]
    deliver(tls_server, "group1_1", messages)
    client = pop3s(tls_server)
    assert client.getwelcome().startswith(b"+OK POP3 server ready <")
    assert "STLS" not in client.capa()
    exercise_3(client, messages)
    assert len(inbox(tls_server).messages) == 1
    assert "implicit TLS (TLSv1." in tls_server.log()


def test_stls_refused_once_tls_or_logged_in(tls_server: ServerProcess) -> None:
    client = stls(tls_server)
    with pytest.raises(poplib.error_proto, match="-ERR"):
        command(client, "STLS")
    client.user("group1_1")
    client.pass_("group1_1")
    with pytest.raises(poplib.error_proto, match="-ERR"):
        command(client, "STLS")
    client.quit()

    secure = pop3s(tls_server)
    with pytest.raises(poplib.error_proto, match="-ERR command not permitted when TLS active"):
        command(secure, "STLS")
    secure.quit()

    plain = poplib.POP3(tls_server.host, tls_server.ports["pop3"], timeout=TIMEOUT)
    plain.user("group1_1")
    plain.pass_("group1_1")
    with pytest.raises(poplib.error_proto, match="-ERR"):
        command(plain, "STLS")
    plain.quit()


def command(client: poplib.POP3, line: str) -> bytes:
    """Send a command poplib has no method for (or refuses to send itself)."""
    reply: bytes = cast(Any, client)._shortcmd(line)
    return reply


def recv_all(sock: ssl.SSLSocket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_plaintext_pipelined_behind_stls_is_not_executed(tls_server: ServerProcess) -> None:
    """The STARTTLS command-injection case: ``STLS\\r\\nCAPA\\r\\n`` in one packet."""
    sock = socket.create_connection((tls_server.host, tls_server.ports["pop3"]), TIMEOUT)
    with sock:
        assert recv_line(sock).startswith(b"+OK POP3 server ready")
        sock.sendall(b"STLS\r\nCAPA\r\nUSER group1_1\r\n")
        assert recv_line(sock) == b"+OK Begin TLS negotiation\r\n"
        context = trusting(tls_server, check_hostname=True)
        with context.wrap_socket(sock, server_hostname=HOSTNAME) as tls:
            tls.sendall(b"PASS group1_1\r\nQUIT\r\n")
            # The injected CAPA and USER were dropped, not answered over TLS.
            assert recv_all(tls) == b"-ERR send USER first\r\n+OK\r\n"


def test_policy_requires_tls_for_plaintext_logins(server_factory: ServerFactory) -> None:
    server = server_factory(listeners=TLS_LISTENERS, auth={"allow_plaintext_without_tls": False})
    plain = poplib.POP3(server.host, server.ports["pop3"], timeout=TIMEOUT)
    capabilities = plain.capa()
    assert "STLS" in capabilities
    assert "USER" not in capabilities
    assert "SASL" not in capabilities
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
        plain.user("group1_1")
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
        command(plain, "AUTH PLAIN AGdyb3VwMV8xAGdyb3VwMV8x")
    plain.stls(trusting(server))
    capabilities = plain.capa()
    assert "USER" in capabilities
    assert capabilities["SASL"] == ["PLAIN", "LOGIN"]
    assert plain.user("group1_1") == b"+OK"
    assert plain.pass_("group1_1").startswith(b"+OK 0 messages")
    plain.quit()

    secure = pop3s(server)
    assert "USER" in secure.capa()
    assert command(secure, "AUTH PLAIN AGdyb3VwMV8xAGdyb3VwMV8x").startswith(b"+OK")
    secure.quit()


def test_tls_below_1_2_refused_on_pop3s(tls_server: ServerProcess) -> None:
    address = (tls_server.host, tls_server.ports["pop3s"])
    old = tls_client(ssl.TLSVersion.TLSv1_1)
    with socket.create_connection(address, TIMEOUT) as sock:
        assert_refused_by_server(lambda: old.wrap_socket(sock))
    # The same client settings with 1.2 allowed get through: the version was the reason.
    with (
        socket.create_connection(address, TIMEOUT) as sock,
        tls_client(ssl.TLSVersion.TLSv1_2).wrap_socket(sock) as tls,
    ):
        assert tls.version() == "TLSv1.2"
        assert recv_line(tls).startswith(b"+OK POP3 server ready")


def test_tls_below_1_2_refused_after_stls(tls_server: ServerProcess) -> None:
    client = poplib.POP3(tls_server.host, tls_server.ports["pop3"], timeout=TIMEOUT)
    assert_refused_by_server(lambda: client.stls(tls_client(ssl.TLSVersion.TLSv1_1)))
    with contextlib.suppress(OSError):
        client.close()  # the failed wrap_socket already took the socket down
    client = poplib.POP3(tls_server.host, tls_server.ports["pop3"], timeout=TIMEOUT)
    client.stls(tls_client(ssl.TLSVersion.TLSv1_2))
    assert client.user("group1_1") == b"+OK"
    client.quit()
    assert "TLS handshake failed (UNSUPPORTED_PROTOCOL)" in tls_server.log()


# ------------------------------------------------------------- real clients


@pytest.mark.external
def test_openssl_s_client_starttls(tls_server: ServerProcess) -> None:
    messages = [make_message(1), make_message(2)]
    deliver(tls_server, "group1_1", messages)
    total = sum(len(m) for m in messages)
    result = s_client_starttls(
        tls_server, "pop3", "pop3", "USER group1_1\nPASS group1_1\nSTAT\nQUIT\n"
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert result.stdout.split(b"\r\n") == [
        b"+OK",
        f"+OK 2 messages ({total} octets)".encode(),
        f"+OK 2 {total}".encode(),
        b"+OK",
        b"",
    ]


def curl(server: ServerProcess, url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    """curl naming the host ``JServer.NetLab`` so it checks the certificate fully."""
    port = server.ports["pop3s" if url.startswith("pop3s") else "pop3"]
    return run(
        [
            "curl",
            "-s",
            "-S",
            "--resolve",
            f"{HOSTNAME}:{port}:127.0.0.1",
            "--cacert",
            str(certificate(server)),
            "-u",
            "group1_1:group1_1",
            *args,
            f"{url}://{HOSTNAME}:{port}/",
        ]
    )


@pytest.mark.external
@pytest.mark.parametrize(("scheme", "options"), [("pop3", ("--ssl-reqd",)), ("pop3s", ())])
def test_curl_lists_over_tls(
    tls_server: ServerProcess, scheme: str, options: tuple[str, ...]
) -> None:
    messages = [make_message(1), make_message(2)]
    deliver(tls_server, "group1_1", messages)
    result = curl(tls_server, scheme, *options)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert result.stdout.split(b"\r\n")[:2] == [
        f"1 {len(messages[0])}".encode(),
        f"2 {len(messages[1])}".encode(),
    ]
    log = tls_server.log()
    assert ("TLS established" if scheme == "pop3" else "implicit TLS") in log


@pytest.mark.external
def test_curl_insecure_flag_as_students_type_it(tls_server: ServerProcess) -> None:
    """``curl --ssl-reqd -k pop3://...`` and ``curl -k pop3s://...`` with IP addresses."""
    deliver(tls_server, "group1_1", [make_message(1)])
    for url in (
        f"pop3://127.0.0.1:{tls_server.ports['pop3']}/1",
        f"pop3s://127.0.0.1:{tls_server.ports['pop3s']}/1",
    ):
        extra = ["--ssl-reqd"] if url.startswith("pop3:") else []
        result = run(["curl", "-s", "-S", "-k", *extra, url, "-u", "group1_1:group1_1"])
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        assert result.stdout == make_message(1)
