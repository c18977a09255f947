"""Every listener keeps the full ``listen()`` backlog, in one process and in workers.

asyncio's ``create_server(sock=...)`` calls ``listen()`` again with its
default of 100, which silently undid the supervisor's larger backlog. Under
a burst of connections the kernel then dropped handshakes it had answered
with SYN cookies, and a few clients of 300 connecting at once waited for a
greeting that never came (found by ``bench/loginrace.py``). The kernel
reports a listening socket's backlog as its send queue (``ss -l``), so this
reads it from there instead of hoping to overflow it in time.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable

import pytest

from mailserver.net.backlog import BACKLOG
from tests.support.server import ServerProcess

pytestmark = pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")


def listen_backlog(port: int) -> int:
    """The backlog of the socket listening on 127.0.0.1:``port``, as the kernel has it."""
    out = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    assert len(rows) == 1, out  # one socket, shared by every worker
    return int(rows[0][2])  # State, Recv-Q, Send-Q: for a listener, Send-Q is the backlog


@pytest.mark.parametrize("workers", [1, 2])
def test_every_listener_has_the_full_backlog(
    server_factory: Callable[..., ServerProcess], workers: int
) -> None:
    server = server_factory(workers=workers)
    assert set(server.ports) >= {"smtp", "pop3", "imap"}
    for name, port in server.ports.items():
        assert listen_backlog(port) == BACKLOG, name
