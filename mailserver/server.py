"""Run every configured listener in one process until SIGTERM/SIGINT.

Start-up order: validate config (done by the caller), open the store and the
user database, bind every listener (failing with a clear message naming the
port), then serve. Shutdown: stop accepting, let in-flight transactions
finish, close idle sessions, exit within a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mailserver import gctune, native
from mailserver.activity import ActivityTracker
from mailserver.auth import Authenticator, UserDatabase
from mailserver.auth.throttle import LoginThrottle, ThrottlePolicy
from mailserver.auth.throttle_events import share_throttle
from mailserver.config import Config
from mailserver.control import ControlContext, ControlServer, socket_path
from mailserver.events import EventBus, LocalEventBus
from mailserver.imap.mime import pool as parse_pool
from mailserver.listeners import IMPLICIT_TLS, ListenerContext, find_listener
from mailserver.net.sessions import SessionRegistry
from mailserver.relay.manager import QueueManager
from mailserver.services import Services

# Re-exported: the workers, the CLI and tests import these from here.
from mailserver.startup import SHUTDOWN_GRACE as SHUTDOWN_GRACE
from mailserver.startup import StartupError as StartupError
from mailserver.startup import bind_error_message, tls_context
from mailserver.startup import run_loop as run_loop
from mailserver.startup import write_ready_file as write_ready_file
from mailserver.storage.maildir import MaildirStore
from mailserver.storage.maildir.tmpclean import clean_tmp
from mailserver.storage.spool import clean_spool
from mailserver.transcripts.archive import TranscriptArchive, release_archive, shared_archive
from mailserver.transcripts.files import TranscriptFiles
from mailserver.workers import worker_index

log = logging.getLogger("mailserver")


def build_store(config: Config, events: EventBus | None = None) -> MaildirStore:
    """The mail store with the config's quotas and the folders new accounts get.

    With ``events``, folder changes are published as ``Topic.MAILBOX`` and
    changes published by other processes wake this process's sessions.
    """
    return MaildirStore(
        config.mail_dir,
        quota=config.quota.limit_bytes,
        default_folders=[(name, use) for use, name in config.special_folders.items()],
        events=events,
    )


def build_services(config: Config, events: EventBus | None = None) -> Services:
    """Create the shared store and authentication from the config, on one event channel
    (in process unless a worker passes its link to the supervisor)."""
    config.mail_dir.mkdir(parents=True, exist_ok=True)
    events = events if events is not None else LocalEventBus()
    users = UserDatabase(config.user_db_path, scheme=config.auth.password_scheme)
    throttle = LoginThrottle(ThrottlePolicy.from_settings(config.auth))
    share_throttle(throttle, events)
    return Services(
        config=config,
        store=build_store(config, events),
        auth=Authenticator(users, config.domains, throttle=throttle),
        events=events,
    )


@dataclass
class RunningServer:
    """The listeners of one running server, with the ports they actually bound."""

    services: Services
    sessions: SessionRegistry
    servers: dict[str, asyncio.Server] = field(default_factory=dict)
    #: Recent sessions for the console and ``sessions.list``; None if none are kept.
    archive: TranscriptArchive | None = None
    transcript_files: TranscriptFiles | None = None
    activity: ActivityTracker | None = None
    control: ControlServer | None = None
    #: Delivers the outbound queue (``relay/``); None until started.
    queue: QueueManager | None = None

    def ports(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for name, server in self.servers.items():
            sockets = server.sockets
            if sockets:
                result[name] = sockets[0].getsockname()[1]
        return result

    async def close(self, grace: float = SHUTDOWN_GRACE) -> None:
        for server in self.servers.values():
            server.close()
        await self.sessions.shutdown(grace)
        if self.queue is not None:
            await self.queue.stop()
        closing = [server.wait_closed() for server in self.servers.values()]
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), 1.0)
        await self._close_observers()
        self.services.auth.close()
        parse_pool.shutdown()  # the FETCH parse processes, if a big FETCH started them

    async def _close_observers(self) -> None:
        """The control socket, the activity record and the transcripts, after the sessions."""
        if self.control is not None:
            await self.control.close()
        if self.activity is not None:
            await self.activity.close()
        if self.transcript_files is not None:
            await asyncio.to_thread(self.transcript_files.close)
        if self.archive is not None:
            if worker_index() is not None:
                self.archive.hand_over()  # SIGHUP replaces workers one at a time
            release_archive(self.services.events)


async def start_server(
    config: Config,
    services: Services | None = None,
    sockets: dict[str, socket.socket] | None = None,
) -> RunningServer:
    """Bind every configured listener whose protocol is available.

    A worker passes ``sockets``: the listeners its supervisor already bound,
    by listener name; those are served instead of binding the address again.
    """
    services = services or build_services(config)
    # Uploads and message files a killed process never finished (nor acknowledged).
    clean_spool(config.data_dir)
    await asyncio.to_thread(clean_tmp, config.mail_dir)
    limits = config.limits
    sessions = SessionRegistry(
        limits.max_connections, limits.max_connections_per_ip, limits.unauthenticated_share
    )
    running = RunningServer(services=services, sessions=sessions)
    if not config.listeners:
        raise StartupError("no listeners configured: add e.g. 'listeners: {smtp: 0.0.0.0:25}'")
    if config.auth.allow_plaintext_without_tls:
        log.warning(
            "plaintext logins are allowed without TLS (auth.allow_plaintext_without_tls): "
            "passwords cross the network readable, as the lab exercises intend"
        )
    tls = tls_context(config)
    await _start_observers(running)
    for name, address in config.listeners.items():
        start = find_listener(name)
        if start is None:
            log.warning(
                "listener %s (%s) skipped: this protocol is not available yet", name, address
            )
            continue
        context = ListenerContext(
            name=name,
            services=services,
            address=address,
            sessions=sessions,
            ssl_context=tls if name in IMPLICIT_TLS else None,
            starttls_context=None if name in IMPLICIT_TLS else tls,
            sock=None if sockets is None else sockets.get(name),
        )
        if sockets is not None and context.sock is None:
            continue  # the supervisor skipped it (not available) and said so
        try:
            running.servers[name] = await start(context)
        except OSError as exc:
            await running.close(grace=0)
            raise StartupError(bind_error_message(name, address.host, address.port, exc)) from None
        services.ports.update(running.ports())
        log.info("%s listening on %s", name, _describe(running.servers[name], address.host))
    if not running.servers:
        await running.close(grace=0)
        raise StartupError("none of the configured listeners is available")
    running.queue = QueueManager(services)
    await running.queue.start()
    return running


async def _start_observers(running: RunningServer) -> None:
    """What listens on the event channel (before any session starts), and the control socket.

    Every process keeps its own archive of the sessions it serves (the
    console, served by any worker, gathers the others' when it is read) and
    its own share of the activity record (merged on disk). The transcript
    files and the control socket exist once per server: in worker 0 when
    there are workers, which hears the others' events through the
    supervisor's hub.
    """
    config, bus = running.services.config, running.services.events
    settings = config.transcripts
    if settings.keep_sessions > 0:
        running.archive = shared_archive(
            bus, settings.keep_sessions, int(settings.keep_mb * 1024 * 1024)
        )
        if worker_index() is not None:
            running.archive.ask()  # the sessions the other workers saw before this one began
    running.activity = ActivityTracker(config.activity_path)
    running.activity.attach(bus)
    if worker_index() not in (None, 0):
        return
    if settings.dir is not None:
        running.transcript_files = TranscriptFiles(settings.dir)
        running.transcript_files.attach(bus)
    control = ControlServer(socket_path(config), ControlContext(running.services, running.archive))
    try:
        await control.start()
    except OSError as exc:
        log.warning("no control socket at %s: %s", control.path, exc)
    else:
        running.control = control


def _describe(server: asyncio.Server, host: str) -> str:
    port = server.sockets[0].getsockname()[1] if server.sockets else "?"
    return f"{host}:{port}"


async def serve(
    config: Config,
    ready_file: Path | None = None,
    *,
    services: Services | None = None,
    sockets: dict[str, socket.socket] | None = None,
    on_ready: Callable[[RunningServer], None] | None = None,
) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully.

    The single-process server and every worker process run this; a worker
    passes its services (on the supervisor's event channel), the sockets
    the supervisor bound and an ``on_ready`` that tells the supervisor.
    """
    running = await start_server(config, services, sockets)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await running.services.events.start()
    if ready_file is not None:
        write_ready_file(ready_file, running.ports())
    # Before on_ready: a worker counts as started once its collector is set too.
    gctune.settle()
    if on_ready is not None:
        on_ready(running)
    if worker_index() in (None, 0):
        # Stale compiled parse modules are not used (native.guard); say so.
        fine, line = native.describe()
        log.log(logging.INFO if fine else logging.WARNING, "%s", line)
    log.info("mailserver ready (pid %d)", os.getpid())
    await stop.wait()
    log.info("shutting down")
    await running.close()
    await running.services.events.close()
    log.info("stopped")


def run(config: Config, ready_file: Path | None = None) -> None:
    """Entry point for ``mailserver serve``: one process, or a supervisor of
    ``config.workers`` worker processes; uvloop when importable."""
    if config.workers > 1:
        from mailserver.workers.supervisor import exec_supervisor

        exec_supervisor(config, ready_file)  # does not return
    else:
        run_loop(serve(config, ready_file))
