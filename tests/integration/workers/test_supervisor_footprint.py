"""The supervisor of ``workers: N`` stays small: it binds, supervises and relays events.

``mailserver serve`` execs a fresh interpreter for it (same pid) that never
imports the protocols, the web side or ``cryptography``; with thousands of
idle sessions the ~25 MB it would otherwise carry count against the whole
server's memory.
"""

from __future__ import annotations

import imaplib
import ssl
from collections.abc import Callable
from pathlib import Path

from tests.support.server import ServerProcess

#: Shared objects that only the serving side loads: aiohttp's parser (web),
#: cryptography's Rust core (certificates), nh3 (the HTML cleaner).
SERVING_ONLY = ("aiohttp", "cryptography", "nh3")


def loaded_libraries(pid: int) -> set[str]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {line.split()[-1] for line in maps.splitlines() if line.rstrip().endswith(".so")}


def test_the_supervisor_keeps_its_pid_and_loads_no_protocol(
    server_factory: Callable[..., ServerProcess],
) -> None:
    listeners = {name: "127.0.0.1:0" for name in ("smtp", "imap", "imaps", "http")}
    server = server_factory(workers=2, listeners=listeners)
    assert server.process is not None
    supervisor = server.process.pid
    command = Path(f"/proc/{supervisor}/cmdline").read_bytes().split(b"\0")
    assert b"mailserver.workers.supervisor" in command, command
    assert len(server.worker_pids()) == 2

    in_supervisor = loaded_libraries(supervisor)
    for name in SERVING_ONLY:
        assert not [lib for lib in in_supervisor if name in lib], (name, sorted(in_supervisor))
    # The workers do load them: the check looks at the right thing.
    in_worker = loaded_libraries(server.worker_pids()[0])
    assert [lib for lib in in_worker if "aiohttp" in lib], sorted(in_worker)

    # And it serves: the self-signed certificate the supervisor's check created works.
    with imaplib.IMAP4_SSL(
        server.host, server.ports["imaps"], ssl_context=_no_verify(), timeout=30
    ) as imap:
        assert imap.login("group1_1", "group1_1")[0] == "OK"


def _no_verify() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
