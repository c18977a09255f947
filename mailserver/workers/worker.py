"""One worker process: ``python -m mailserver.workers.worker`` (started by the supervisor only).

It reads the config file, takes the listening sockets and the event link
its supervisor passed as inherited file descriptors, and runs the same
``serve()`` as the single-process server, with the event channel joined to
the supervisor's hub. Once it serves, it publishes ``worker.ready`` on
``Topic.CONTROL`` so the supervisor can name it in the ready file.

A worker must never outlive its supervisor (a ``kill -9`` of the
supervisor would leave orphans serving the port): the kernel sends it
SIGTERM when the parent dies (``PR_SET_PDEATHSIG``), and a lost event link
also makes it shut down gracefully.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from mailserver.auth.throttle_events import ask_for_throttle_state
from mailserver.config import Config, ConfigError, load_config
from mailserver.events import Topic
from mailserver.events.link import MAX_LINE
from mailserver.events.remote import RemoteEventBus
from mailserver.server import RunningServer, StartupError, build_services, run_loop, serve
from mailserver.startup import log_to_stderr
from mailserver.workers import _set_worker_index

log = logging.getLogger("mailserver.worker")

_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """SIGTERM this process when the supervisor goes (Linux); exit if it is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the lost event link still stops the worker
    if os.getppid() != parent:
        sys.exit(0)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mailserver-worker")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--events-fd", type=int, required=True)
    parser.add_argument("--listen", action="append", default=[], metavar="NAME=FD")
    return parser.parse_args(argv)


async def _run(args: argparse.Namespace, config: Config) -> None:
    sockets: dict[str, socket.socket] = {}
    for item in args.listen:
        name, _, fd = item.partition("=")
        sockets[name] = socket.socket(fileno=int(fd))
    link_socket = socket.socket(fileno=args.events_fd)
    used = False

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        nonlocal used
        if used:  # a socketpair cannot be reopened; the supervisor starts a new worker
            raise ConnectionRefusedError("the supervisor's event link is gone")
        used = True
        return await asyncio.open_unix_connection(sock=link_socket, limit=MAX_LINE)

    def lost() -> None:
        log.warning("worker %d: lost the supervisor, shutting down", args.index)
        os.kill(os.getpid(), signal.SIGTERM)  # the graceful path of serve()

    events = RemoteEventBus(connect, on_lost=lost)
    services = build_services(config, events)
    # Joined before the listeners accept, so the first session's events already travel.
    await events.start()
    ask_for_throttle_state(events)  # a replaced worker keeps the brake its predecessor had

    def ready(running: RunningServer) -> None:
        events.emit(Topic.CONTROL, action="worker.ready", index=args.index)

    await serve(config, services=services, sockets=sockets, on_ready=ready)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    _die_with_parent(args.parent)
    _set_worker_index(args.index)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"mailserver worker {args.index}: config error: {exc}", file=sys.stderr)
        return 2
    log_to_stderr(config.log_level, f"[worker {args.index} pid %(process)d]")
    try:
        run_loop(_run(args, config))
    except StartupError as exc:
        print(f"mailserver worker {args.index}: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
