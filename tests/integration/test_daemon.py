"""Starting and stopping the daemon the way an operator does."""

from __future__ import annotations

import smtplib
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support.server import ServerProcess, create_users, write_config


def test_sigterm_stops_the_server_cleanly(mail_server: ServerProcess) -> None:
    with smtplib.SMTP(mail_server.host, mail_server.ports["smtp"], timeout=10) as client:
        assert client.noop()[0] == 250
    assert mail_server.stop(timeout=10) == 0
    assert "stopped" in mail_server.log()


def test_sigterm_with_idle_clients_connected_still_stops(mail_server: ServerProcess) -> None:
    idle = [
        socket.create_connection((mail_server.host, port), timeout=10)
        for port in mail_server.ports.values()
    ]
    try:
        for sock in idle:
            assert sock.recv(100)  # greeting
        assert mail_server.stop(timeout=10) == 0
    finally:
        for sock in idle:
            sock.close()


def test_every_connection_and_start_is_logged(mail_server: ServerProcess) -> None:
    with smtplib.SMTP(mail_server.host, mail_server.ports["smtp"], timeout=10) as client:
        client.noop()
    mail_server.stop()
    log = mail_server.log()
    for name in ("smtp", "pop3", "imap"):
        assert f"{name} listening on 127.0.0.1:" in log
    assert "127.0.0.1" in log


def test_port_in_use_is_a_clear_startup_error(
    tmp_path: Path, server_factory: Callable[..., ServerProcess]
) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    try:
        config = write_config(tmp_path, listeners={"smtp": f"127.0.0.1:{port}"})
        create_users(config)
        result = subprocess.run(
            [sys.executable, "-m", "mailserver", "-c", str(config), "serve"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        blocker.close()
    assert result.returncode == 3
    assert f"127.0.0.1:{port}" in result.stderr and "already in use" in result.stderr
    assert "Traceback" not in result.stderr
