"""SMTP over TLS against the real server process (uvloop): STARTTLS on 25 and 587, smtps on 465.

Clients: Python's smtplib, ``openssl s_client -starttls smtp`` and curl, as
students use them. smtplib trusts exactly the server's self-signed
certificate (``data_dir/tls/cert.pem``) but cannot name the host
``JServer.NetLab``, so the host name is not checked there.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.smtp.helpers import DOMAIN, b64, delivered
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
TLS_LISTENERS = {"smtp": "127.0.0.1:0", "submission": "127.0.0.1:0", "smtps": "127.0.0.1:0"}
TIMEOUT = 20.0
PLAIN_GROUP1_1 = b64("\0group1_1\0group1_1")

EXERCISE_2_MESSAGE = (
    "From: nick <group1_1@JServer.NetLab>\r\n"
    "To: group1_2@JServer.NetLab\r\n"
    "Subject: Test mail 3\r\n"
    "\r\n"
    "This is a test mail!\r\n"
)


@pytest.fixture
def tls_server(server_factory: ServerFactory) -> Iterator[ServerProcess]:
    """The minimal config plus the submission and smtps listeners; whatever the
    clients did, the server must not have logged a traceback."""
    server = server_factory(listeners=TLS_LISTENERS)
    yield server
    assert "Traceback" not in server.log()


def starttls(server: ServerProcess, listener: str = "smtp") -> smtplib.SMTP:
    client = smtplib.SMTP(server.host, server.ports[listener], timeout=TIMEOUT)
    client.ehlo("pc")
    assert client.has_extn("starttls")
    assert client.starttls(context=trusting(server))[0] == 220
    client.ehlo("pc")
    return client


def smtps(server: ServerProcess) -> smtplib.SMTP_SSL:
    client = smtplib.SMTP_SSL(
        server.host, server.ports["smtps"], timeout=TIMEOUT, context=trusting(server)
    )
    client.ehlo("pc")
    return client


def exercises_1_and_2(client: smtplib.SMTP, server: ServerProcess) -> None:
    """Exercise 1 (no login, HELO) and exercise 2 (AUTH LOGIN) on one TLS connection."""
    sock = client.sock
    assert isinstance(sock, ssl.SSLSocket)
    assert sock.version() in ("TLSv1.2", "TLSv1.3")
    assert "starttls" not in client.esmtp_features
    assert client.esmtp_features["auth"].split() == ["PLAIN", "LOGIN", "CRAM-MD5"]
    # Exercise 1: a mail client that does not log in, to a local recipient.
    assert client.helo("cslabc36") == (250, b"JServer.NetLab")
    assert client.mail(f"group1_1@{DOMAIN}") == (250, b"2.1.0 Ok")
    assert client.rcpt(f"group1_1@{DOMAIN}") == (250, b"2.1.5 Ok")
    assert client.data(b"Subject: one\r\n\r\nhi\r\n")[0] == 250
    # Exercise 2: AUTH LOGIN typed by hand, then a message with headers.
    assert client.docmd("auth login") == (334, b"VXNlcm5hbWU6")
    assert client.docmd(b64("group1_1")) == (334, b"UGFzc3dvcmQ6")
    assert client.docmd(b64("group1_1")) == (235, b"2.7.0 Authentication successful")
    assert client.mail(f"group1_1@{DOMAIN}")[0] == 250
    assert client.rcpt(f"group1_2@{DOMAIN}")[0] == 250
    assert client.data(EXERCISE_2_MESSAGE.encode())[1].startswith(b"2.0.0 Ok: queued as ")
    assert client.quit()[0] == 221
    [first] = delivered(server, "group1_1")
    assert first["Subject"] == "one"
    assert "with ESMTPS id" in first["Received"]  # STARTTLS or smtps: ESMTP either way
    [second] = delivered(server, "group1_2")
    assert second["Subject"] == "Test mail 3"
    assert "with ESMTPSA id" in second["Received"]


def test_exercises_over_starttls(tls_server: ServerProcess) -> None:
    exercises_1_and_2(starttls(tls_server), tls_server)
    assert "TLS established (TLSv1." in tls_server.log()


def test_exercises_over_implicit_tls(tls_server: ServerProcess) -> None:
    exercises_1_and_2(smtps(tls_server), tls_server)
    assert "implicit TLS (TLSv1." in tls_server.log()


def test_submission_over_starttls(tls_server: ServerProcess) -> None:
    client = starttls(tls_server, "submission")
    client.login("group1_3", "group1_3")
    client.sendmail(f"group1_3@{DOMAIN}", [f"group1_1@{DOMAIN}"], b"Subject: 587\r\n\r\nx\r\n")
    client.quit()
    [stored] = delivered(tls_server, "group1_1")
    assert "with ESMTPSA id" in stored["Received"]


def test_no_starttls_on_smtps(tls_server: ServerProcess) -> None:
    client = smtps(tls_server)
    assert not client.has_extn("starttls")
    assert client.docmd("STARTTLS")[0] == 500
    client.quit()


# ------------------------------------------------------------ injection


def recv_all(sock: ssl.SSLSocket) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


@pytest.mark.parametrize("listener", ["smtp", "submission"])
@pytest.mark.parametrize(
    "injected", [b"NOOP", b"RSET", b"EHLO evil\r\nAUTH PLAIN " + PLAIN_GROUP1_1.encode()]
)
def test_plaintext_pipelined_behind_starttls_is_not_executed(
    tls_server: ServerProcess, listener: str, injected: bytes
) -> None:
    """The STARTTLS command-injection case: ``STARTTLS\\r\\nNOOP\\r\\n`` in one packet."""
    sock = socket.create_connection((tls_server.host, tls_server.ports[listener]), TIMEOUT)
    with sock:
        assert recv_line(sock).startswith(b"220 JServer.NetLab ESMTP")
        sock.sendall(b"EHLO pc\r\n")
        while not recv_line(sock).startswith(b"250 "):
            pass
        sock.sendall(b"STARTTLS\r\n" + injected + b"\r\n")
        assert recv_line(sock) == b"220 2.0.0 Ready to start TLS\r\n"
        with trusting(tls_server).wrap_socket(sock) as tls:
            tls.sendall(b"MAIL FROM:<group1_1@JServer.NetLab>\r\nQUIT\r\n")
            # Only our two commands are answered: the injected ones were dropped
            # (and so the fresh session has no EHLO and no login).
            assert recv_all(tls) == b"503 5.5.1 Error: send HELO/EHLO first\r\n221 2.0.0 Bye\r\n"


# --------------------------------------------------------------- policy


def test_policy_hides_auth_until_tls(server_factory: ServerFactory) -> None:
    server = server_factory(listeners=TLS_LISTENERS, auth={"allow_plaintext_without_tls": False})
    for listener in ("smtp", "submission"):
        plain = smtplib.SMTP(server.host, server.ports[listener], timeout=TIMEOUT)
        plain.ehlo("pc")
        assert plain.has_extn("starttls")
        assert not plain.has_extn("auth")
        for mechanism in ("PLAIN " + PLAIN_GROUP1_1, "LOGIN", "CRAM-MD5"):
            assert plain.docmd("AUTH " + mechanism) == (
                538,
                b"5.7.11 Encryption required for requested authentication mechanism",
            )
        plain.starttls(context=trusting(server))
        plain.ehlo("pc")
        assert plain.esmtp_features["auth"].split() == ["PLAIN", "LOGIN", "CRAM-MD5"]
        assert plain.login("group1_1", "group1_1")[0] == 235
        plain.quit()
    secure = smtps(server)
    assert secure.has_extn("auth")
    assert secure.login("group1_2", "group1_2")[0] == 235
    secure.quit()


def test_minimal_config_allows_plaintext_auth(tls_server: ServerProcess) -> None:
    plain = smtplib.SMTP(tls_server.host, tls_server.ports["smtp"], timeout=TIMEOUT)
    plain.ehlo("pc")
    assert plain.esmtp_features["auth"].split() == ["PLAIN", "LOGIN", "CRAM-MD5"]
    assert plain.login("group1_1", "group1_1")[0] == 235
    plain.quit()


# ----------------------------------------------------------- TLS versions


def test_tls_below_1_2_refused_on_smtps(tls_server: ServerProcess) -> None:
    address = (tls_server.host, tls_server.ports["smtps"])
    old = tls_client(ssl.TLSVersion.TLSv1_1)
    with socket.create_connection(address, TIMEOUT) as sock:
        assert_refused_by_server(lambda: old.wrap_socket(sock), smtplib.SMTPServerDisconnected)
    # The same client settings with 1.2 allowed get through: the version was the reason.
    with (
        socket.create_connection(address, TIMEOUT) as sock,
        tls_client(ssl.TLSVersion.TLSv1_2).wrap_socket(sock) as tls,
    ):
        assert tls.version() == "TLSv1.2"
        assert recv_line(tls).startswith(b"220 JServer.NetLab ESMTP ready")


@pytest.mark.parametrize("listener", ["smtp", "submission"])
def test_tls_below_1_2_refused_after_starttls(tls_server: ServerProcess, listener: str) -> None:
    client = smtplib.SMTP(tls_server.host, tls_server.ports[listener], timeout=TIMEOUT)
    client.ehlo("pc")
    assert_refused_by_server(
        lambda: client.starttls(context=tls_client(ssl.TLSVersion.TLSv1_1)),
        smtplib.SMTPServerDisconnected,
    )
    with contextlib.suppress(OSError):
        client.close()
    client = smtplib.SMTP(tls_server.host, tls_server.ports[listener], timeout=TIMEOUT)
    client.ehlo("pc")
    client.starttls(context=tls_client(ssl.TLSVersion.TLSv1_2))
    client.ehlo("pc")
    assert client.login("group1_1", "group1_1")[0] == 235
    client.quit()
    log = tls_server.log()
    assert "TLS handshake failed" in log
    assert "Traceback" not in log


# ------------------------------------------------------------- real clients


@pytest.mark.external
@pytest.mark.parametrize("listener", ["smtp", "submission"])
def test_openssl_s_client_starttls(tls_server: ServerProcess, listener: str) -> None:
    typed = (
        "EHLO pc\n"
        f"AUTH PLAIN {PLAIN_GROUP1_1}\n"
        "MAIL FROM:<group1_1@JServer.NetLab>\n"
        "RCPT TO:<group1_2@JServer.NetLab>\n"
        "DATA\n"
        "Subject: via s_client\n"
        "\n"
        "typed over TLS\n"
        ".\n"
        "QUIT\n"
    )
    result = s_client_starttls(tls_server, "smtp", listener, typed)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    lines = result.stdout.decode().split("\r\n")
    # s_client sends its own EHLO and STARTTLS and eats those replies; ours follow.
    assert lines[0] == "250-JServer.NetLab"
    assert "250-AUTH PLAIN LOGIN CRAM-MD5" in lines
    assert "250-STARTTLS" not in lines
    after_ehlo = lines[lines.index("250 BINARYMIME") + 1 :]
    assert after_ehlo[:4] == [
        "235 2.7.0 Authentication successful",
        "250 2.1.0 Ok",
        "250 2.1.5 Ok",
        "354 End data with <CR><LF>.<CR><LF>",
    ]
    assert after_ehlo[4].startswith("250 2.0.0 Ok: queued as ")
    assert after_ehlo[5:] == ["221 2.0.0 Bye", ""]
    [stored] = delivered(tls_server, "group1_2")
    assert stored["Subject"] == "via s_client"


@pytest.fixture
def message_file(tmp_path: Path) -> Path:
    path = tmp_path / "message.eml"
    path.write_bytes(EXERCISE_2_MESSAGE.encode())
    return path


@pytest.mark.external
@pytest.mark.parametrize(
    ("scheme", "listener", "options"),
    [
        ("smtp", "smtp", ("--ssl-reqd",)),
        ("smtp", "submission", ("--ssl-reqd",)),
        ("smtps", "smtps", ()),
    ],
)
def test_curl_sends_over_tls(
    tls_server: ServerProcess,
    message_file: Path,
    scheme: str,
    listener: str,
    options: tuple[str, ...],
) -> None:
    """``curl --ssl-reqd -k smtp://...`` and ``curl -k smtps://...`` as students type them."""
    result = run(
        [
            "curl",
            "-s",
            "-S",
            "-k",
            *options,
            f"{scheme}://127.0.0.1:{tls_server.ports[listener]}",
            "--mail-from",
            f"group1_1@{DOMAIN}",
            "--mail-rcpt",
            f"group1_2@{DOMAIN}",
            "-T",
            str(message_file),
            "-u",
            "group1_1:group1_1",
        ]
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    [stored] = delivered(tls_server, "group1_2")
    assert stored["Subject"] == "Test mail 3"
    assert "with ESMTPSA id" in stored["Received"]
