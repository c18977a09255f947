"""The instructor's side with two workers: one transcript file per session, written
once, whichever worker served it; the control socket answers; an unblock lifts the
block in every worker."""

from __future__ import annotations

import contextlib
import imaplib
import time
from collections.abc import Callable
from pathlib import Path

from mailserver.config import load_config
from mailserver.control import call
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
    # One file per session, none twice. connect_to may have opened (and closed at
    # once) connections that landed on the other worker: those are sessions too,
    # with a file of their own, so count the EHLOs over every file, not the files.
    every = list(directory.glob("*.log"))
    sessions = [path.read_text().splitlines()[0] for path in every]
    assert len(set(sessions)) == len(every), sessions
    assert sum(path.read_text().count("C: ehlo pc") for path in every) == 2
    for path in files:
        text = path.read_text()
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
