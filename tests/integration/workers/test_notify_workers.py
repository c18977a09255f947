"""NOTIFY (RFC 5465) across worker processes: a session in one worker hears of a
mailbox created and of mail appended through the other worker, by the event
channel, well before any poll would have noticed."""

from __future__ import annotations

import contextlib
import time

from tests.integration.workers.test_workers import (  # noqa: F401 (fixture)
    imap_on,
    message,
    two_workers,
)
from tests.support.server import ServerProcess


def test_notify_hears_the_other_worker(two_workers: ServerProcess) -> None:  # noqa: F811
    first, second = two_workers.worker_pids()
    watcher = imap_on(two_workers, first)
    writer = imap_on(two_workers, second)
    try:
        watcher.send(b"N1 NOTIFY SET (PERSONAL (MessageNew MessageExpunge MailboxName))\r\n")
        assert watcher.readline() == b"N1 OK NOTIFY completed\r\n"
        started = time.monotonic()
        typ, data = writer.create("Lists")
        assert typ == "OK", data
        assert watcher.readline() == b'* LIST () "/" Lists\r\n'
        typ, data = writer.append("Lists", "", None, message("news").encode())
        assert typ == "OK", data
        line = watcher.readline()
        assert line.startswith(b"* STATUS Lists (MESSAGES 1 UIDNEXT 2 UIDVALIDITY "), line
        # Nothing polls other mailboxes: this is the event channel at work.
        assert time.monotonic() - started < 10.0
    finally:
        for client in (watcher, writer):
            with contextlib.suppress(Exception):
                client.logout()
