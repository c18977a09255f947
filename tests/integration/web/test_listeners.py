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


def test_plain_http_login_points_to_the_https_port_really_bound(tmp_path: Path) -> None:
    """Plaintext logins off: the http login page sends the student to https, on the
    port the listener bound (``:0`` in the config means a port chosen at start)."""
    import re
    import urllib.request

    path = web_config(tmp_path, auth={"allow_plaintext_without_tls": False}, workers=2)
    process = ServerProcess(path).start()
    try:
        url = f"http://{process.host}:{process.ports['http']}/login"
        for _ in range(4):  # each connection to either worker
            with urllib.request.urlopen(url, timeout=30) as reply:
                page = reply.read().decode()
            links = set(re.findall(r"https://[^\"'<\s]+", page))
            assert links == {f"https://{process.host}:{process.ports['https']}/login"}, links
    finally:
        process.stop()


def test_favicon_is_served_not_a_404(tmp_path: Path) -> None:
    """Browsers fetch /favicon.ico on their own; it must not fill logs with 404s."""
    import urllib.request

    server = ServerProcess(web_config(tmp_path, listeners={"http": "127.0.0.1:0"})).start()
    try:
        url = f"http://{server.host}:{server.ports['http']}"
        with urllib.request.urlopen(f"{url}/favicon.ico", timeout=30) as reply:
            assert reply.status == 200
            assert reply.headers["Content-Type"].startswith("image/svg+xml")
            assert reply.read().startswith(b"<svg")
        with urllib.request.urlopen(f"{url}/login", timeout=30) as reply:
            assert b'rel="icon" href="/static/favicon.svg"' in reply.read()
    finally:
        server.stop()
