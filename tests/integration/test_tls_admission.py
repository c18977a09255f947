"""TLS handshakes count against the connection limits and never keep a slot.

A client that opens a TCP connection to smtps/pop3s/imaps and never
completes the handshake must take one of the limited slots from the moment
it connects (otherwise a flood of half-open handshakes holds sockets outside
every limit), lose it when the handshake times out, and a STARTTLS whose
handshake is cut short by the idle timeout must give its slot back too.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Callable

import pytest

from tests.support.lines import LineClient
from tests.support.server import ServerProcess
from tests.support.tls import trusting

ServerFactory = Callable[..., ServerProcess]
LISTENERS = {
    "smtp": "127.0.0.1:0",
    "smtps": "127.0.0.1:0",
    "pop3": "127.0.0.1:0",
    "pop3s": "127.0.0.1:0",
    "imap": "127.0.0.1:0",
    "imaps": "127.0.0.1:0",
}
TIMEOUT = 20.0
#: What each implicit-TLS listener greets with once the handshake is done.
GREETINGS = {"smtps": b"220 ", "pop3s": b"+OK", "imaps": b"* OK"}


def half_open(server: ServerProcess, listener: str) -> socket.socket:
    """A TCP connection that never sends a ClientHello."""
    return socket.create_connection((server.host, server.ports[listener]), timeout=TIMEOUT)


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server hung up (EOF or reset) without sending anything."""
    try:
        return sock.recv(1) == b""
    except ConnectionError:
        return True


def wait_until_admitted(server: ServerProcess, deadline: float) -> LineClient:
    """A plaintext IMAP connection that is let in, retried until ``deadline``."""
    while True:
        client = LineClient(server.host, server.ports["imap"], timeout=TIMEOUT)
        line = client.readline()
        if line.startswith("* OK"):
            return client
        client.close()
        assert time.monotonic() < deadline, "the slot was never given back"
        time.sleep(0.2)


@pytest.mark.parametrize("listener", ["smtps", "pop3s", "imaps"])
def test_half_open_handshakes_count_against_the_limits(
    server_factory: ServerFactory, listener: str
) -> None:
    server = server_factory(listeners=LISTENERS, limits={"max_connections_per_ip": 2})
    stalled = [half_open(server, listener) for _ in range(2)]
    try:
        time.sleep(0.3)
        # Both slots of this address are taken by the handshakes in progress.
        with LineClient(server.host, server.ports["imap"], timeout=TIMEOUT) as plain:
            assert plain.readline() == "* BYE Too many connections"
        # A third TLS client is closed at once, without a handshake.
        with half_open(server, listener) as extra:
            assert closed_by_server(extra)
    finally:
        for sock in stalled:
            sock.close()
    # Leaving mid-handshake gives the slots back; real TLS clients get in.
    wait_until_admitted(server, time.monotonic() + 10).close()
    context = trusting(server)
    for _ in range(2):
        with (
            socket.create_connection((server.host, server.ports[listener]), TIMEOUT) as raw,
            context.wrap_socket(raw) as tls,
        ):
            assert tls.recv(100).startswith(GREETINGS[listener])
    assert "Traceback" not in server.log()


@pytest.mark.parametrize("listener", ["smtps", "pop3s", "imaps"])
def test_stalled_handshake_times_out_and_frees_its_slot(
    server_factory: ServerFactory, listener: str
) -> None:
    server = server_factory(
        listeners=LISTENERS,
        limits={"max_connections_per_ip": 1},
        timeouts={"smtp": 1, "pop3": 1, "imap": 1},
    )
    with half_open(server, listener) as stalled:
        started = time.monotonic()
        assert closed_by_server(stalled)
        assert time.monotonic() - started < 10
    wait_until_admitted(server, time.monotonic() + 10).close()
    assert "TLS handshake failed" in server.log()


def test_garbage_instead_of_a_client_hello(server_factory: ServerFactory) -> None:
    server = server_factory(listeners=LISTENERS, limits={"max_connections_per_ip": 1})
    for listener in ("smtps", "pop3s", "imaps"):
        with half_open(server, listener) as sock:
            sock.sendall(b"EHLO plaintext\r\nUSER group1_1\r\na LOGIN x y\r\n")
            data = b""
            with contextlib.suppress(ConnectionError):
                while chunk := sock.recv(100):
                    data += chunk
            # At most a TLS alert (content type 21), never a protocol reply.
            assert data == b"" or data[:1] == b"\x15", data
        wait_until_admitted(server, time.monotonic() + 10).close()
    assert "Traceback" not in server.log()


def test_smtp_starttls_cut_short_by_the_idle_timeout_frees_its_slot(
    server_factory: ServerFactory,
) -> None:
    server = server_factory(
        listeners=LISTENERS, limits={"max_connections_per_ip": 1}, timeouts={"smtp": 1}
    )
    with LineClient(server.host, server.ports["smtp"], timeout=TIMEOUT) as client:
        client.expect("220 ")
        client.send("EHLO pc")
        client.read_until(lambda line: line.startswith("250 "))
        client.send("STARTTLS")
        client.expect("220 ")
        # No ClientHello: the idle timeout (1 s) ends the handshake.
        assert closed_by_server(client.sock)
    wait_until_admitted(server, time.monotonic() + 10).close()
    with (
        socket.create_connection((server.host, server.ports["smtps"]), TIMEOUT) as raw,
        ssl.create_default_context(cafile=str(server.data_dir / "tls" / "cert.pem")).wrap_socket(
            raw, server_hostname="JServer.NetLab"
        ) as tls,
    ):
        assert tls.recv(100).startswith(b"220 ")
