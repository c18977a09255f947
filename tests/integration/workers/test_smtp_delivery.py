"""SMTP delivers the way Postfix's and Dovecot's local agents do: the message is
durable in ``new/`` at the ``250`` and gets its UID from the next reader of
the folder, whichever worker that is. Two workers, real sockets and clients."""

from __future__ import annotations

import contextlib
import time

from tests.integration.workers.test_workers import (  # noqa: F401 (fixture)
    ADDRESS,
    SENDER,
    USER,
    imap_on,
    message,
    pop3_on,
    smtp_on,
    two_workers,
)
from tests.support.server import ServerProcess


def uidlist_lines(server: ServerProcess) -> list[bytes]:
    path = server.maildir(USER) / "dovecot-uidlist"
    return path.read_bytes().splitlines()[1:] if path.exists() else []


def test_smtp_delivery_is_numbered_by_the_next_reader_in_either_worker(
    two_workers: ServerProcess,  # noqa: F811
) -> None:
    first, second = two_workers.worker_pids()
    watcher = imap_on(two_workers, first)
    try:
        typ, data = watcher.select("INBOX")
        assert typ == "OK" and data == [b"0"], data
        numbered = uidlist_lines(two_workers)
        watcher.send(b"X1 IDLE\r\n")
        assert watcher.readline() == b"+ idling\r\n"
        started = time.monotonic()
        with smtp_on(two_workers, second) as client:
            client.sendmail(SENDER, [ADDRESS], message("one"))
            # At the 250 the file is on disk; the other worker's IDLE hears of it
            # through the event channel, numbers it and (claiming \Recent) may
            # already have moved it on to cur/.
            root = two_workers.maildir(USER)
            names = [*(root / "new").iterdir(), *(root / "cur").iterdir()]
            assert len(names) == 1 and b"Subject: one\n" in names[0].read_bytes()
        assert watcher.readline() == b"* 1 EXISTS\r\n"
        assert time.monotonic() - started < 10.0  # IDLE's own poll is every 30 s
        watcher.send(b"DONE\r\n")
        while (line := watcher.readline()) != b"X1 OK IDLE terminated\r\n":
            assert line.startswith(b"* "), line
        assert len(uidlist_lines(two_workers)) == len(numbered) + 1
        typ, data = watcher.close()  # no session has the folder selected now
        assert typ == "OK", data

        # Nobody reads while these arrive: they stay unnumbered in new/ ...
        with smtp_on(two_workers, second) as client:
            for subject in ("two", "three"):
                client.sendmail(SENDER, [ADDRESS], message(subject))
        assert len(list((two_workers.maildir(USER) / "new").iterdir())) == 2
        assert len(uidlist_lines(two_workers)) == len(numbered) + 1
        # ... until a reader in the other worker (POP3's STAT) numbers them,
        # and both protocols agree on the store.
        pop = pop3_on(two_workers, second)
        try:
            pop.user(USER)
            pop.pass_(USER)
            assert pop.stat()[0] == 3
            uidls = pop.uidl()[1]
        finally:
            pop.quit()
        assert len(uidls) == 3
        typ, data = watcher.select("INBOX")
        assert typ == "OK" and data == [b"3"], data
        typ, data = watcher.uid("FETCH", "1:*", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK", data
        subjects = [part[1].strip() for part in data if isinstance(part, tuple)]
        assert subjects == [b"Subject: one", b"Subject: two", b"Subject: three"]
        typ, data = watcher.status("INBOX", "(MESSAGES UIDNEXT)")
        assert data == [b'"INBOX" (MESSAGES 3 UIDNEXT 4)'] or data == [
            b"INBOX (MESSAGES 3 UIDNEXT 4)"
        ], data
        assert len(uidlist_lines(two_workers)) == len(numbered) + 3
    finally:
        with contextlib.suppress(Exception):
            watcher.logout()
