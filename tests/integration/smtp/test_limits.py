"""Abuse limits on the SMTP listeners: password guessing, idle connections, connection caps.

Only generous bounds on time: each wait is a read with a timeout, never an
assertion about how long something took.
"""

from __future__ import annotations

import contextlib
import re
import signal
import smtplib
import socket
import ssl
from collections.abc import Callable

from tests.integration.smtp.helpers import DOMAIN, b64, delivered
from tests.support.lines import LineClient
from tests.support.server import ServerProcess

ServerFactory = Callable[..., ServerProcess]
LISTENERS = {"smtp": "127.0.0.1:0", "submission": "127.0.0.1:0", "smtps": "127.0.0.1:0"}
TIMEOUT = 20.0
THROTTLE = {
    "free_failures": 1,
    "failure_delay": 0.2,
    "block_after_failures": 4,
    "block_seconds": 60,
}


def greeted(server: ServerProcess, listener: str = "smtp") -> LineClient:
    client = LineClient(server.host, server.ports[listener], timeout=TIMEOUT)
    client.expect("220 JServer.NetLab ESMTP ready")
    return client


def cram_md5(client: smtplib.SMTP, user: str, password: str) -> tuple[int, bytes]:
    client.user, client.password = user, password
    return client.auth("CRAM-MD5", client.auth_cram_md5)


def auth_login(client: smtplib.SMTP, user: str, password: str) -> tuple[int, bytes]:
    """AUTH LOGIN as exercise 2 types it: the name as initial response, then the password."""
    assert client.docmd("AUTH LOGIN", b64(user)) == (334, b"UGFzc3dvcmQ6")
    return client.docmd(b64(password))


def test_guessing_blocks_the_address(server_factory: ServerFactory) -> None:
    server = server_factory(listeners=LISTENERS, auth=THROTTLE)
    client = smtplib.SMTP(server.host, server.ports["submission"], timeout=TIMEOUT)
    client.ehlo("pc")
    # Four wrong guesses, one per mechanism and one more: all go through the throttle.
    attempts = [
        lambda: client.docmd("AUTH PLAIN", b64("\0group1_1\0guess1")),
        lambda: auth_login(client, "group1_1", "guess2"),
        lambda: cram_md5(client, "group1_1", "guess3"),
        lambda: client.docmd("AUTH PLAIN", b64("\0group1_2\0guess4")),
    ]
    for attempt in attempts:
        try:
            reply: tuple[int, bytes | str] = attempt()
        except smtplib.SMTPAuthenticationError as failure:
            reply = (failure.smtp_code, failure.smtp_error)
        assert reply == (535, b"5.7.8 Authentication credentials invalid")
    assert "authentication from 127.0.0.1 blocked for 60s after 4 failures" in server.log()
    # Now even the right password is refused from this address, with every mechanism,
    # on every SMTP listener (the block is per address, not per connection), and
    # the reply says it is a block for a while, not a wrong password.
    code, text = client.docmd("AUTH PLAIN", b64("\0group1_1\0group1_1"))
    assert code == 454 and re.fullmatch(rb"4\.7\.0 Too many failed logins .* in \d+ seconds", text)
    try:
        cram_md5(client, "group1_3", "group1_3")
    except smtplib.SMTPAuthenticationError as failure:
        assert failure.smtp_code == 454
    else:
        raise AssertionError("CRAM-MD5 got through a blocked address")
    client.quit()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    secure = smtplib.SMTP_SSL(server.host, server.ports["smtps"], timeout=TIMEOUT, context=context)
    secure.ehlo("pc")
    assert secure.docmd("AUTH PLAIN", b64("\0group1_2\0group1_2"))[0] == 454
    secure.quit()
    # Mail for local users still flows from that address: only logins are blocked.
    plain = smtplib.SMTP(server.host, server.ports["smtp"], timeout=TIMEOUT)
    plain.sendmail("x@elsewhere.example", [f"group1_1@{DOMAIN}"], b"Subject: still\r\n\r\n.\r\n")
    plain.quit()
    assert [m["Subject"] for m in delivered(server, "group1_1")] == ["still"]


def test_idle_connections_are_capped_and_timed_out(server_factory: ServerFactory) -> None:
    server = server_factory(
        listeners=LISTENERS,
        limits={"max_connections_per_ip": 5},
        timeouts={"smtp": 2},
    )
    idle = [greeted(server, "smtp" if i % 2 else "submission") for i in range(5)]
    try:
        # The sixth connection from the same address is refused, on any listener.
        for listener in ("smtp", "submission"):
            with LineClient(server.host, server.ports[listener], timeout=TIMEOUT) as extra:
                extra.expect("421 4.7.0 Too many connections, try again later")
                with contextlib.suppress(ConnectionError):
                    assert extra.sock.recv(1) == b""
        # The idle ones are told so and disconnected (timeout 2 s; reads wait up to 20 s).
        for client in idle:
            client.expect("421 4.4.2 Idle timeout, closing connection")
            with contextlib.suppress(ConnectionError):
                assert client.sock.recv(1) == b""
    finally:
        for client in idle:
            client.close()
    # A well-behaved client gets through once the slots are free again.
    for _ in range(100):
        with LineClient(server.host, server.ports["smtp"], timeout=TIMEOUT) as probe:
            if probe.readline().startswith("220 "):
                probe.send("QUIT")
                probe.expect("221")
                break
    polite = smtplib.SMTP(server.host, server.ports["smtp"], timeout=TIMEOUT)
    polite.ehlo("pc")
    polite.sendmail(f"group1_1@{DOMAIN}", [f"group1_2@{DOMAIN}"], b"Subject: polite\r\n\r\n.\r\n")
    polite.quit()
    assert [m["Subject"] for m in delivered(server, "group1_2")] == ["polite"]
    assert "Traceback" not in server.log()


def test_a_client_that_never_speaks_is_timed_out(server_factory: ServerFactory) -> None:
    """Even one that never reads the greeting (or stops mid-DATA) is disconnected."""
    server = server_factory(listeners=LISTENERS, timeouts={"smtp": 2})
    with socket.create_connection((server.host, server.ports["smtps"]), TIMEOUT) as silent:
        # No TLS handshake at all on the implicit-TLS port.
        silent.settimeout(TIMEOUT)
        with contextlib.suppress(ConnectionError):
            assert silent.recv(1024) == b""
    # STARTTLS, then no handshake.
    with greeted(server, "submission") as stalled:
        stalled.send("STARTTLS")
        stalled.expect("220 2.0.0 Ready to start TLS")
        with contextlib.suppress(ConnectionError):
            assert stalled.sock.recv(1024) == b""
    client = greeted(server)
    for line in ("EHLO pc", f"MAIL FROM:<group1_1@{DOMAIN}>", f"RCPT TO:<group1_2@{DOMAIN}>"):
        client.send(line)
    client.read_until(lambda line: line.startswith("250 ") and "BINARYMIME" in line)
    client.expect("250 2.1.0")
    client.expect("250 2.1.5")
    client.send("DATA")
    client.expect("354")
    client.send("half a message")
    client.expect("421 4.4.2 Idle timeout, closing connection")
    client.close()
    assert delivered(server, "group1_2") == []
    assert "Traceback" not in server.log()


def test_shutdown_says_goodbye_on_every_listener(server_factory: ServerFactory) -> None:
    server = server_factory(listeners=LISTENERS)
    plain = [greeted(server, listener) for listener in ("smtp", "submission")]
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    secure = smtplib.SMTP_SSL(server.host, server.ports["smtps"], timeout=TIMEOUT, context=context)
    secure.ehlo("pc")
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)
    for client in plain:
        client.expect("421 4.3.2 Server shutting down, try again later")
        client.close()
    assert secure.getreply() == (421, b"4.3.2 Server shutting down, try again later")
    secure.close()
    assert server.stop() == 0
    assert "Traceback" not in server.log()
