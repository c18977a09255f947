"""The instructor's side with two workers: one transcript file per session, written
once, whichever worker served it; the control socket answers; an unblock lifts the
block in every worker."""

from __future__ import annotations

import contextlib
import imaplib
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

from mailserver.config import load_config
from mailserver.control import call
from tests.integration.workers.test_web_sessions import Browser, web_server
from tests.integration.workers.test_workers import TIMEOUT, smtp_on
from tests.support.server import ServerProcess
from tests.support.workers import connect_to

ServerFactory = Callable[..., ServerProcess]


def _files_with(directory: Path, marker: str, count: int) -> list[Path]:
    deadline = time.monotonic() + TIMEOUT
    while True:
        found = [p for p in directory.glob("*.log") if marker in p.read_text(errors="replace")]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_each_workers_sessions_are_transcribed_once(server_factory: ServerFactory) -> None:
    server = server_factory(workers=2, transcripts={"dir": "./transcripts"})
    directory = server.directory / "transcripts"
    for number, pid in enumerate(server.worker_pids()):
        client = smtp_on(server, pid)
        client.ehlo(f"pc{number}.NetLab")
        client.quit()
    files = _files_with(directory, "C: ehlo pc", 2)
    assert len(files) == 2, [p.name for p in directory.glob("*")]
    # One file per session, none twice. (Other files may exist: steering a
    # connection to a chosen worker opens and drops sessions in the other one.)
    texts = [path.read_text() for path in files]
    for number in range(2):
        assert sum(f"C: ehlo pc{number}.NetLab" in text for text in texts) == 1, texts
    for text in texts:
        assert text.count("C: ehlo pc") == 1, text


def test_control_unblock_reaches_every_worker(server_factory: ServerFactory) -> None:
    server = server_factory(
        workers=2, auth={"free_failures": 0, "failure_delay": 0, "block_after_failures": 2}
    )
    pids = server.worker_pids()

    def imap_on(pid: int) -> imaplib.IMAP4:
        return connect_to(
            lambda: imaplib.IMAP4(server.host, server.ports["imap"], timeout=TIMEOUT),
            lambda c: c.sock,
            lambda c: c.shutdown(),
            pids,
            pid,
        )

    for pid in pids:
        client = imap_on(pid)
        with contextlib.suppress(imaplib.IMAP4.error):
            client.login("group1_1", "wrong")
        client.shutdown()
    config = load_config(server.config_path)
    deadline = time.monotonic() + TIMEOUT
    while not call(config, "throttle.list").get("blocked"):
        assert time.monotonic() < deadline, "the address was never blocked"
        time.sleep(0.1)
    assert call(config, "throttle.unblock", address="127.0.0.1")["was_blocked"]
    for pid in pids:  # both workers let the right password in again
        deadline = time.monotonic() + TIMEOUT
        while True:
            client = imap_on(pid)
            try:
                client.login("group1_1", "group1_1")
                client.logout()
                break
            except imaplib.IMAP4.error:
                client.shutdown()
                assert time.monotonic() < deadline, f"worker {pid} kept the block"
                time.sleep(0.2)


def test_console_lists_the_same_sessions_in_every_worker_after_sighup(
    server_factory: ServerFactory,
) -> None:
    """The console may be served by any worker: after SIGHUP replaced them, every
    worker lists the sessions typed before it, and every listed link opens."""
    server = web_server(server_factory, web={"admins": ["group1_1"]})
    old = set(server.worker_pids())
    for number, pid in enumerate(sorted(old)):
        client = smtp_on(server, pid)
        client.ehlo(f"typed-before-sighup-{number}")
        client.quit()
    assert server.process is not None
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 90
    while "SIGHUP: all workers replaced" not in server.log() or old & set(server.worker_pids()):
        assert time.monotonic() < deadline, "the workers were not replaced"
        time.sleep(0.1)
    first, second = server.worker_pids()
    browser = Browser(server)
    browser.log_in(first, second, "group1_1")
    listed = {}
    for pid in (first, second):
        page = browser.request(pid, "GET", "/console/")
        assert page.status == 200, page.body
        # Mail sessions only: the web login just made may not have reached the other
        # worker yet (events take a moment), the SMTP sessions ended long before.
        found = re.findall(r'href="/console/sessions/([^"/.]+)"', page.body)
        listed[pid] = {session for session in found if not session.startswith("web-")}
    assert listed[first] == listed[second]
    texts = ""
    for session in listed[first]:
        for pid in (first, second):
            reply = browser.request(pid, "GET", f"/console/sessions/{session}.txt")
            assert reply.status == 200, (pid, session, reply.body)
        texts += reply.body
    for number in range(2):
        assert f"C: ehlo typed-before-sighup-{number}" in texts


def test_sessions_of_a_killed_worker_do_not_stay_connected(server_factory: ServerFactory) -> None:
    """A worker killed with -9 sends no ``session.closed``: the console must not show
    its SMTP session as connected for ever (the web login, kept in the shared
    session table, is still connected)."""
    server = web_server(server_factory, web={"admins": ["group1_1"]})
    victim, survivor = server.worker_pids()
    client = smtp_on(server, victim)
    client.ehlo("crash-victim")
    browser = Browser(server)
    browser.log_in(survivor, survivor, "group1_1")

    def connected() -> str:
        page = browser.request(survivor, "GET", "/console/")
        assert page.status == 200, page.body
        return page.body.split("Connected now", 1)[1].split("Login blocks", 1)[0]

    cell = f"<td>127.0.0.1:{client.sock.getsockname()[1]}</td>"
    deadline = time.monotonic() + TIMEOUT
    while cell not in connected():
        assert time.monotonic() < deadline, "the SMTP session never showed as connected"
        time.sleep(0.1)
    os.kill(victim, signal.SIGKILL)
    client.close()
    deadline = time.monotonic() + TIMEOUT
    while cell in connected():
        assert time.monotonic() < deadline, "the dead worker's session is still connected"
        time.sleep(0.2)
    table = connected()
    assert "group1_1" in table  # the web login is unaffected


def test_transcript_file_of_a_killed_workers_session_is_ended(
    server_factory: ServerFactory,
) -> None:
    """Worker 0 writes the files; worker 1 dies with a session open: its file says so
    (and is closed) instead of staying open for ever."""
    server = server_factory(workers=2, transcripts={"dir": "./transcripts"})
    directory = server.directory / "transcripts"
    victim = server.worker_pids()[1]  # not worker 0, which writes the files
    client = smtp_on(server, victim)
    client.ehlo("pc-of-the-victim.NetLab")
    files = _files_with(directory, "C: ehlo pc-of-the-victim", 1)
    assert len(files) == 1
    os.kill(victim, signal.SIGKILL)
    client.close()
    deadline = time.monotonic() + TIMEOUT
    while "connection lost: its worker process ended" not in files[0].read_text():
        assert time.monotonic() < deadline, files[0].read_text()
        time.sleep(0.1)
