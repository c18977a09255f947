"""TLS helpers shared by the real-socket tests of the three protocols.

Client contexts that trust the test server's self-signed certificate, a
client offering old TLS versions, the check that the server refused such a
handshake, and runners for external tools (``openssl s_client``, curl).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.server import HOSTNAME, ServerProcess


def certificate(server: ServerProcess) -> Path:
    """The self-signed certificate the server wrote on its first start."""
    return server.data_dir / "tls" / "cert.pem"


def trusting(server: ServerProcess, check_hostname: bool = False) -> ssl.SSLContext:
    """A client context that trusts exactly the server's self-signed certificate
    (by default without checking the name: it is not 127.0.0.1)."""
    context = ssl.create_default_context(cafile=str(certificate(server)))
    context.check_hostname = check_hostname
    return context


def recv_line(sock: socket.socket) -> bytes:
    """One reply line read byte by byte, so nothing after it is consumed."""
    data = b""
    while not data.endswith(b"\r\n"):
        byte = sock.recv(1)
        if not byte:
            raise EOFError(f"server closed the connection after {data!r}")
        data += byte
    return data


def tls_client(maximum: ssl.TLSVersion) -> ssl.SSLContext:
    """A client offering TLS 1.0 up to ``maximum``, or a skip if this OpenSSL cannot."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = maximum
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pytest.skip("the local OpenSSL cannot offer TLS 1.1")
    return context


def assert_refused_by_server(
    handshake: Callable[[], object], *hang_ups: type[BaseException]
) -> None:
    """The handshake fails on the server's side: a protocol-version alert or a hang-up.

    A hang-up is a ``ConnectionError`` or one of ``hang_ups`` (the way a client
    library reports that the server closed the connection).
    """
    with pytest.raises((ssl.SSLError, ConnectionError, *hang_ups)) as failure:
        handshake()
    reason = str(getattr(failure.value, "reason", ""))
    if reason == "NO_PROTOCOLS_AVAILABLE":
        pytest.skip("the local OpenSSL cannot offer TLS 1.1")
    assert (
        "PROTOCOL_VERSION" in reason
        or reason == "UNEXPECTED_EOF_WHILE_READING"
        or not isinstance(failure.value, ssl.SSLError)
    ), failure.value


def run(command: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run an external client, or skip if it is not installed."""
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed")
    return subprocess.run(command, input=stdin, capture_output=True, timeout=60)


def s_client_starttls(
    server: ServerProcess, protocol: str, listener: str, typed: str
) -> subprocess.CompletedProcess[bytes]:
    """``openssl s_client -starttls <protocol>`` verifying the certificate and the
    name ``JServer.NetLab``, with ``typed`` as the user's input (LF becomes CRLF)."""
    return run(
        [
            "openssl",
            "s_client",
            "-starttls",
            protocol,
            "-connect",
            f"127.0.0.1:{server.ports[listener]}",
            "-CAfile",
            str(certificate(server)),
            "-verify_hostname",
            HOSTNAME,
            "-verify_return_error",
            "-crlf",
            "-quiet",
            "-ign_eof",
        ],
        typed.encode(),
    )
