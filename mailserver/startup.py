"""What starting a server needs before any protocol is loaded.

The single-process server, every worker and the supervisor of ``workers: N``
share these. They live apart from :mod:`mailserver.server` so that the
supervisor, which only binds sockets, starts workers and relays events,
does not import the protocols, the store and the web side (about 30 MB in
every process that imports them).
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import ssl
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from mailserver.config import Config
from mailserver.net.tls import (
    CertificateProblem,
    check_certificate_pair,
    ensure_certificate,
    server_context,
)

#: Seconds that in-flight transactions get to finish at shutdown.
SHUTDOWN_GRACE = 5.0


class StartupError(Exception):
    """The server cannot start; the message says why, for the operator."""


def log_to_stderr(level: str, tag: str = "") -> None:
    """The one log format of every process of a server (``tag`` names a worker)."""
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s %(levelname)s %(name)s{tag}: %(message)s",
        stream=sys.stderr,
    )


def tls_context(config: Config) -> ssl.SSLContext:
    """One server context for STARTTLS and implicit TLS; self-signed if none is configured."""
    try:
        paths = ensure_certificate(config)
        if config.tls.certificate is not None:
            check_certificate_pair(paths)
        return server_context(paths)
    except CertificateProblem as exc:
        raise StartupError(str(exc)) from None
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise StartupError(f"cannot load the TLS certificate or key: {exc}") from None


def bind_error_message(name: str, host: str, port: int, exc: OSError) -> str:
    """Why a listener could not bind, in the operator's terms."""
    if exc.errno == errno.EACCES and port < 1024:
        return (
            f"cannot listen on port {port} ({name}): ports below 1024 need root "
            f"or CAP_NET_BIND_SERVICE; run as root or choose a port above 1023"
        )
    if exc.errno == errno.EADDRINUSE:
        return f"cannot listen on {host}:{port} ({name}): the address is already in use"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}:{port} ({name}): no such local address"
    return f"cannot listen on {host}:{port} ({name}): {exc.strerror}"


def write_ready_file(path: Path, ports: dict[str, int], workers: list[int] | None = None) -> None:
    """Tell a supervisor (or a test) which ports were bound, atomically; with
    worker processes also their pids (the file is rewritten when one is replaced)."""
    temp = path.with_name(path.name + ".tmp")
    content: dict[str, object] = {"pid": os.getpid(), "ports": ports}
    if workers is not None:
        content["workers"] = workers
    temp.write_text(json.dumps(content))
    os.replace(temp, path)


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop when importable, else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
