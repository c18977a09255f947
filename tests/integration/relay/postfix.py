"""Debian's Postfix on loopback with a throw-away configuration, for interop tests.

``postconf -c DIR`` / ``postfix -c DIR start`` with its own main.cf, master.cf,
queue and data directories in a fresh directory, listening on 127.0.0.1 on a
free port, relaying the given domains to given loopback ports
(``transport_maps``). Postfix must start as root (its master drops to the
``postfix`` user); the directory lives under /tmp with mode 755 because the
daemons, running as ``postfix``, must reach it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"

MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    def __init__(self, port: int, routes: dict[str, int]) -> None:
        self.port = port
        self.routes = routes
        self.directory = Path(tempfile.mkdtemp(prefix="relay-postfix-", dir="/tmp"))
        os.chmod(self.directory, 0o755)

    @property
    def maillog(self) -> Path:
        return self.directory / "maillog"

    def log(self) -> str:
        try:
            return self.maillog.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self) -> Postfix:
        d = self.directory
        (d / "queue").mkdir()
        (d / "data").mkdir()
        shutil.chown(d / "data", "postfix", "postfix")
        transport = " ".join(f"{dom}=smtp:[127.0.0.1]:{p}" for dom, p in self.routes.items())
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": str(d / "queue"),
            "data_directory": str(d / "data"),
            "myhostname": "postfix.lab",
            "mydomain": "postfix.lab",
            "myorigin": "postfix.lab",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": " ".join(self.routes),
            "transport_maps": f"inline:{{ {transport} }}",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "maillog_file_prefixes": "/tmp",
            "maillog_file": str(self.maillog),
            "smtp_tls_security_level": "may",
            "smtpd_tls_security_level": "none",
            # Retry quickly: the interop tests wait seconds, not minutes.
            "minimal_backoff_time": "2s",
            "maximal_backoff_time": "4s",
            "queue_run_delay": "2s",
            "biff": "no",
        }
        (d / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in settings.items()))
        (d / "master.cf").write_text(MASTER_CF.format(listen=f"127.0.0.1:{self.port}"))
        for command in (["check"], ["start"]):
            result = subprocess.run(
                [POSTFIX, "-c", str(d), *command], capture_output=True, text=True, timeout=60
            )
            if result.returncode != 0:
                raise RuntimeError(f"postfix {command[0]} failed:\n{result.stderr}\n{self.log()}")
        self._wait_listening()
        return self

    def _wait_listening(self) -> None:
        import socket

        deadline = time.monotonic() + 30
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=2),
            ):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"postfix does not listen on {self.port}:\n{self.log()}")
            time.sleep(0.2)

    def stop(self) -> None:
        subprocess.run(
            [POSTFIX, "-c", str(self.directory), "abort"], capture_output=True, timeout=60
        )
        deadline = time.monotonic() + 10
        pid_file = self.directory / "queue" / "pid" / "master.pid"
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self.directory, ignore_errors=True)


def require_postfix() -> None:
    if not os.path.exists(POSTFIX):
        pytest.skip("Debian's postfix is not installed (apt-get install postfix)")
    if os.geteuid() != 0:
        pytest.skip("postfix's master must start as root; these tests run as an ordinary user")
