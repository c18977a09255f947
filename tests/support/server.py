"""Start the real server as a subprocess on ephemeral 127.0.0.1 ports.

Tests talk to it over real sockets, exactly as a user's client would; the
ready file written by ``serve --ready-file`` tells which ports were bound.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

HOSTNAME = "JServer.NetLab"
DOMAIN = "JServer.NetLab"
#: Accounts every test server has; the password equals the name (the lab's rule).
LAB_USERS = ("group1_1", "group1_2", "group1_3")
#: An account without a plaintext-equivalent secret (APOP/CRAM-MD5 must fail cleanly).
HASH_ONLY_USER = ("bob", "bob-secret-pw")

PROTOCOLS = ("smtp", "pop3", "imap")


def write_config(directory: Path, **overrides: Any) -> Path:
    """Write the minimal config of the foundation issue, on ephemeral ports."""
    config: dict[str, Any] = {
        "hostname": HOSTNAME,
        "domains": [DOMAIN],
        "data_dir": "./data",
        "listeners": {name: "127.0.0.1:0" for name in PROTOCOLS},
        # One process unless a test asks for more (tests/integration/workers/).
        "workers": 1,
    }
    config.update(overrides)
    path = directory / "mailserver.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def create_users(config_path: Path) -> None:
    """Create the test accounts through the same API the CLI uses."""
    from mailserver.auth import UserDatabase
    from mailserver.config import load_config

    config = load_config(config_path)
    users = UserDatabase(config.user_db_path, scheme=config.auth.password_scheme)
    users.add_many(((name, name) for name in LAB_USERS), plain_secret=True)
    users.add_many([HASH_ONLY_USER])


class ServerProcess:
    """One ``mailserver serve`` process and the ports it bound."""

    def __init__(self, config_path: Path) -> None:
        self.config_path = config_path
        self.directory = config_path.parent
        self.ready_file = self.directory / "ready.json"
        self.log_path = self.directory / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.ports: dict[str, int] = {}
        self.host = "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    def maildir(self, user: str) -> Path:
        return self.mail_dir / user

    def start(self, timeout: float = 20.0) -> ServerProcess:
        with contextlib.suppress(FileNotFoundError):
            self.ready_file.unlink()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mailserver",
                "-c",
                str(self.config_path),
                "serve",
                "--ready-file",
                str(self.ready_file),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.directory,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not self.ready_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"server did not become ready:\n{self.log()}")
            time.sleep(0.02)
        self.ports = json.loads(self.ready_file.read_text())["ports"]
        return self

    def worker_pids(self) -> list[int]:
        """The worker processes (``workers: N`` > 1) as the ready file names them now;
        the supervisor rewrites it when it replaces a worker."""
        workers: list[int] = json.loads(self.ready_file.read_text()).get("workers", [])
        return workers

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait: the graceful path."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"server ignored SIGTERM for {timeout}s:\n{self.log()}") from None

    def kill(self) -> None:
        """SIGKILL: the crash path."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
