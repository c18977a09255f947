"""The http/https listeners as parts of the server: same certificate, clean shutdown."""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path

from tests.integration.web.conftest import web_config
from tests.support.server import ServerProcess


def peer_certificate(port: int) -> bytes:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        context.wrap_socket(raw) as tls,
    ):
        certificate = tls.getpeercert(binary_form=True)
    assert certificate
    return certificate


def test_https_shares_the_mail_certificate_and_shutdown_is_prompt(tmp_path: Path) -> None:
    listeners = {"imaps": "127.0.0.1:0", "http": "127.0.0.1:0", "https": "127.0.0.1:0"}
    server = ServerProcess(web_config(tmp_path, listeners=listeners)).start()
    try:
        assert peer_certificate(server.ports["https"]) == peer_certificate(server.ports["imaps"])
        # A browser keeps its connection open between pages; shutdown must not wait for it.
        idle = socket.create_connection(("127.0.0.1", server.ports["http"]), timeout=30)
        idle.sendall(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert idle.recv(4096).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert server.stop(timeout=15) == 0
        assert time.monotonic() - started < 12, "the open web connection held up the shutdown"
        idle.close()
    finally:
        server.kill()
