"""The supervisor of ``workers: N``: binds the listeners, runs N workers, keeps them running.

Why one listening socket shared by all workers (inherited) rather than
``SO_REUSEPORT``: the kernel's accept queue belongs to the socket, so
connections waiting in it when a worker dies are taken by the others
instead of being reset, port 0 means one port for everybody, and a bind
error is reported once, by the supervisor, exactly as in one process.

Workers are fresh interpreters (``python -m mailserver.workers.worker``),
not forks of a process with a running event loop; each reads the config
file itself, so a restarted worker (after a crash or SIGHUP) sees the file
as it is now. Each gets one end of a socketpair to the event hub here: no
name on disk, nobody else can connect, and its lifetime is the worker's.

Signals: SIGTERM/SIGINT stop every worker gracefully (each lets in-flight
transactions finish within the single-process bounds) and then exit;
SIGHUP replaces the workers one at a time (graceful stop, fresh start), so
a changed config (other than the listeners) applies without refusing a
single connection. A worker that exits unasked is restarted, at once the
first time and with growing back-off if it keeps crashing; acknowledged
data is on disk before the acknowledgement, so nothing acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailserver.config import Config, ConfigError, load_config
from mailserver.events import Event, Topic
from mailserver.events.hub import HubEventBus
from mailserver.listeners import listener_available
from mailserver.net.backlog import BACKLOG
from mailserver.startup import (
    SHUTDOWN_GRACE,
    StartupError,
    bind_error_message,
    log_to_stderr,
    run_loop,
    tls_context,
    write_ready_file,
)

log = logging.getLogger("mailserver.supervisor")

#: Seconds a starting worker gets to say it is ready before it counts as failed.
START_TIMEOUT = 60.0
#: A worker gets the single-process shutdown bound plus this before SIGKILL.
STOP_MARGIN = 5.0
#: A worker that ran this long before dying is restarted without back-off.
STABLE_AFTER = 10.0
MAX_BACKOFF = 5.0
#: Seconds between looks at the workers (SIGCHLD belongs to the event loop).
REAP_INTERVAL = 0.2
#: The ``Topic.CONTROL`` action a worker publishes once it serves its listeners.
WORKER_READY = "worker.ready"
#: The ``Topic.CONTROL`` action the supervisor publishes when a worker died or was
#: killed (``pid``): its sessions ended without a ``session.closed``.
WORKER_GONE = "worker.gone"


def bind_listeners(config: Config) -> dict[str, socket.socket]:
    """Bind and listen on every available listener, with the single-process errors."""
    sockets: dict[str, socket.socket] = {}
    try:
        for name, address in config.listeners.items():
            if not listener_available(name):
                log.warning(
                    "listener %s (%s) skipped: this protocol is not available yet", name, address
                )
                continue
            try:
                sockets[name] = _listen(address.host, address.port)
            except OSError as exc:
                raise StartupError(
                    bind_error_message(name, address.host, address.port, exc)
                ) from None
    except BaseException:
        for sock in sockets.values():
            sock.close()
        raise
    if not sockets:
        raise StartupError("none of the configured listeners is available")
    return sockets


def _listen(host: str, port: int) -> socket.socket:
    """One listening TCP socket, as ``asyncio.start_server`` would make it
    (an empty host or ``0.0.0.0`` / ``::`` as given; the first address found)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(sockaddr)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


@dataclass
class WorkerSlot:
    """Worker number ``index``: the process filling it now, and its crash history."""

    index: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    ready_pid: int | None = None
    #: Deaths in a row, each within STABLE_AFTER of its start (the back-off).
    failures: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class Supervisor:
    """Owns the listening sockets, the worker slots and the event hub; its
    event loop only watches (it serves no client itself)."""

    def __init__(
        self,
        config: Config,
        config_path: Path,
        sockets: dict[str, socket.socket],
        ready_file: Path | None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.sockets = sockets
        self.ready_file = ready_file
        self.events = HubEventBus()
        self.slots = [WorkerSlot(index) for index in range(config.workers)]
        self.stopping = False
        self._stop = asyncio.Event()
        self._reload = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.events.subscribe(Topic.CONTROL, self._on_control)

    # ---------------------------------------------------------- running

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._reload.set)
        try:
            for slot in self.slots:
                await self._spawn(slot)
            await self._wait_ready(self.slots)
            if self.stopping or self._stop.is_set():
                return
            self._announce()
            log.info(
                "mailserver ready (supervisor pid %d, %d workers: %s)",
                os.getpid(),
                len(self.slots),
                " ".join(str(slot.ready_pid) for slot in self.slots),
            )
            await self._watch()
        finally:
            await self._shutdown()

    async def _watch(self) -> None:
        """Restart workers that die; replace them all on SIGHUP; return on SIGTERM."""
        while not self._stop.is_set():
            if self._reload.is_set():
                self._reload.clear()
                await self._replace_all()
                continue
            await self._reap()
            signals = (self._stop, self._reload)
            waiters = [asyncio.create_task(event.wait()) for event in signals]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED), REAP_INTERVAL
                )
            for waiter in waiters:
                waiter.cancel()

    async def _reap(self) -> None:
        """Start a new worker in every slot whose process has exited (or never started)."""
        for slot in self.slots:
            process = slot.process
            if self._stop.is_set():
                return
            if process is not None and process.poll() is None:
                continue
            if process is not None:
                log.warning(
                    "worker %d (pid %d) %s; starting a new one",
                    slot.index,
                    process.pid,
                    _describe_exit(process.returncode),
                )
                self.events.emit(Topic.CONTROL, action=WORKER_GONE, pid=process.pid)
                slot.process = None
            if time.monotonic() - slot.started >= STABLE_AFTER:
                slot.failures = 0
            delay = min(0.1 * (2**slot.failures) if slot.failures else 0.0, MAX_BACKOFF)
            slot.failures += 1
            if delay:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                if self._stop.is_set():
                    return
            await self._spawn(slot)
            task = asyncio.create_task(self._announce_when_ready(slot))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _announce_when_ready(self, slot: WorkerSlot) -> None:
        with contextlib.suppress(StartupError):  # it died again: the next reap handles it
            await self._wait_ready([slot])
            self._announce()

    async def _replace_all(self) -> None:
        """SIGHUP: a new worker for each old one, one at a time; stop at the first that
        does not start, so a broken config file never takes every worker down."""
        try:
            fresh = load_config(self.config_path)
        except ConfigError as exc:
            log.error("SIGHUP ignored, the workers keep running: config error: %s", exc)
            return
        if fresh.listeners != self.config.listeners or fresh.workers != self.config.workers:
            log.warning("SIGHUP: changed listeners or workers take effect only after a restart")
        log.info("SIGHUP: replacing the workers one at a time")
        for slot in self.slots:
            if self._stop.is_set():
                return
            process = slot.process
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                # Its listeners close at once; the others accept meanwhile.
                await self._wait_exit(process, SHUTDOWN_GRACE + STOP_MARGIN)
                # Killed after the grace time, its last sessions sent no session.closed.
                self.events.emit(Topic.CONTROL, action=WORKER_GONE, pid=process.pid)
            slot.failures = 0
            await self._spawn(slot)
            with contextlib.suppress(StartupError):
                await self._wait_ready([slot])
            if not slot.ready.is_set():
                log.error(
                    "SIGHUP: worker %d did not start; the others are left as they are",
                    slot.index,
                )
                return
            self._announce()
        log.info("SIGHUP: all workers replaced")

    # ------------------------------------------------------------ workers

    async def _spawn(self, slot: WorkerSlot) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fds = {name: sock.fileno() for name, sock in self.sockets.items()}
        command = [
            sys.executable,
            "-m",
            "mailserver.workers.worker",
            "--config",
            str(self.config_path),
            "--index",
            str(slot.index),
            "--parent",
            str(os.getpid()),
            "--events-fd",
            str(theirs.fileno()),
        ]
        for name, fd in fds.items():
            command += ["--listen", f"{name}={fd}"]
        slot.ready.clear()
        slot.ready_pid = None
        slot.started = time.monotonic()
        try:
            slot.process = subprocess.Popen(
                command, pass_fds=(theirs.fileno(), *fds.values()), stdin=subprocess.DEVNULL
            )
        except OSError as exc:
            # Out of processes or descriptors: the slot stays empty and the
            # watch loop tries again (with its back-off); the others serve on.
            log.error("cannot start worker %d: %s", slot.index, exc)
            ours.close()
            return
        finally:
            theirs.close()
        await self.events.add_socket(ours)
        log.info("worker %d started (pid %d)", slot.index, slot.process.pid)

    def _on_control(self, event: Event) -> None:
        if event.data.get("action") != WORKER_READY:
            return
        for slot in self.slots:
            if slot.process is not None and slot.process.pid == event.origin:
                slot.ready_pid = event.origin
                slot.ready.set()

    async def _wait_ready(self, slots: list[WorkerSlot]) -> None:
        """Until each slot's worker said it serves, or died, or the deadline passed."""
        deadline = time.monotonic() + START_TIMEOUT
        for slot in slots:
            while not slot.ready.is_set() and not self._stop.is_set():
                if slot.process is None or slot.process.poll() is not None:
                    code = slot.process.returncode if slot.process else None
                    if not any(other.ready.is_set() for other in self.slots):
                        raise StartupError(f"worker {slot.index} failed to start ({code})")
                    break  # the watch loop restarts it
                if time.monotonic() > deadline:
                    raise StartupError(f"worker {slot.index} did not start in time")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(slot.ready.wait(), 0.2)

    def _announce(self) -> None:
        if self.ready_file is None:
            return
        ports = {name: sock.getsockname()[1] for name, sock in self.sockets.items()}
        pids = [slot.ready_pid for slot in self.slots if slot.ready_pid is not None]
        write_ready_file(self.ready_file, ports, workers=pids)

    # ----------------------------------------------------------- stopping

    async def _shutdown(self) -> None:
        """Stop every worker gracefully (SIGKILL after the bound), then the hub."""
        self.stopping = True
        log.info("shutting down")
        for sock in self.sockets.values():
            sock.close()
        running = [s.process for s in self.slots if s.process and s.process.poll() is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        await asyncio.gather(
            *(self._wait_exit(process, SHUTDOWN_GRACE + STOP_MARGIN) for process in running)
        )
        dropped = self.events.dropped()
        if dropped:
            log.warning("event channel: %d events were dropped for slow workers", dropped)
        await self.events.close()
        log.info("stopped")

    @staticmethod
    async def _wait_exit(process: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while process.poll() is None:
            if time.monotonic() > deadline:
                log.warning("worker pid %d ignored SIGTERM; killing it", process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()
                return
            await asyncio.sleep(0.05)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "is running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with status {code}"


async def supervise(config: Config, ready_file: Path | None = None) -> None:
    """Run ``config.workers`` worker processes until SIGTERM or SIGINT."""
    if config.source is None:
        raise StartupError("workers > 1 needs a config file (each worker reads it)")
    if not config.listeners:
        raise StartupError("no listeners configured: add e.g. 'listeners: {smtp: 0.0.0.0:25}'")
    # Once here, so N workers do not race to create the self-signed certificate,
    # and a bad certificate is a start-up error, not N crashing workers.
    check_tls_in_child(config)
    config.mail_dir.mkdir(parents=True, exist_ok=True)
    sockets = bind_listeners(config)
    for name, sock in sockets.items():
        log.info("%s listening on %s", name, _address(sock))
    supervisor = Supervisor(config, config.source, sockets, ready_file)
    await supervisor.run()


def _address(sock: socket.socket) -> str:
    address: Any = sock.getsockname()
    return f"{address[0]}:{address[1]}"


def check_tls_in_child(config: Config) -> None:
    """:func:`tls_context` (creating the self-signed pair if needed) in a forked child.

    Creating or checking a certificate loads ``cryptography`` (about 10 MB),
    which the supervisor would then carry for its whole life without using
    it again; the workers load their own context.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no event loop work, only the check, then _exit
        os.close(read_end)
        problem = ""
        try:
            tls_context(config)
        except StartupError as exc:
            problem = str(exc)
        except BaseException as exc:  # report anything; never run the parent's code
            problem = f"cannot set up TLS: {exc!r}"
        with contextlib.suppress(OSError):
            os.write(write_end, problem.encode("utf-8", "replace")[:4000])
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        problem_bytes = pipe.read()
    _, status = os.waitpid(pid, 0)
    if problem_bytes:
        raise StartupError(problem_bytes.decode("utf-8", "replace"))
    if status != 0:
        raise StartupError(f"the TLS check ended abnormally (wait status {status})")


def exec_supervisor(config: Config, ready_file: Path | None = None) -> None:
    """Become the supervisor: ``exec`` a fresh interpreter running :func:`main`.

    Same process id (signals, systemd, the ready file, ``--parent`` of the
    workers all stay right), but without the modules the command line
    loaded: the supervisor then holds ~25 MB instead of ~55 MB, which counts
    with 10,000 idle sessions. Does not return.
    """
    if config.source is None:
        raise StartupError("workers > 1 needs a config file (each worker reads it)")
    command = [
        sys.executable,
        "-m",
        "mailserver.workers.supervisor",
        "--config",
        str(config.source),
    ]
    if ready_file is not None:
        command += ["--ready-file", str(ready_file)]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)


def main(argv: list[str] | None = None) -> int:
    """``python -m mailserver.workers.supervisor``: what ``mailserver serve`` execs."""
    import argparse

    parser = argparse.ArgumentParser(prog="mailserver-supervisor")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--ready-file", type=Path)
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"mailserver: config error: {exc}", file=sys.stderr)
        return 2
    log_to_stderr(config.log_level)
    try:
        run_loop(supervise(config, args.ready_file))
    except StartupError as exc:
        print(f"mailserver: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
