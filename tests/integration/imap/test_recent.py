"""\\Recent as RFC 3501 2.3.2 defines it, seen through STATUS, EXAMINE and SELECT."""

from __future__ import annotations

import imaplib
import smtplib

from tests.support.server import ServerProcess


def deliver(server: ServerProcess, count: int) -> None:
    with smtplib.SMTP(server.host, server.ports["smtp"], timeout=10) as client:
        for number in range(count):
            client.sendmail(
                "group1_2@JServer.NetLab",
                ["group1_1@JServer.NetLab"],
                f"Subject: recent {number}\r\n\r\nbody\r\n",
            )


def login(server: ServerProcess) -> imaplib.IMAP4:
    client = imaplib.IMAP4(server.host, server.ports["imap"], timeout=10)
    client.login("group1_1", "group1_1")
    return client


def test_status_and_examine_count_recent_without_taking_it(mail_server: ServerProcess) -> None:
    deliver(mail_server, 2)
    watcher = login(mail_server)
    assert watcher.status("INBOX", "(MESSAGES RECENT)")[1] == [b"INBOX (MESSAGES 2 RECENT 2)"]
    typ, _ = watcher.select("INBOX", readonly=True)
    assert typ == "OK" and watcher.untagged_responses["RECENT"] == [b"2"]

    owner = login(mail_server)
    owner.select("INBOX")
    assert owner.untagged_responses["RECENT"] == [b"2"]
    assert owner.status("INBOX", "(RECENT)")[1] == [b"INBOX (RECENT 2)"]

    # The owner claimed them: a new session no longer sees them as recent, while
    # the read-only session that was told of them first keeps its \Recent (2.3.2).
    stranger = login(mail_server)
    assert stranger.status("INBOX", "(RECENT)")[1] == [b"INBOX (RECENT 0)"]
    assert watcher.status("INBOX", "(RECENT)")[1] == [b"INBOX (RECENT 2)"]
    for client in (stranger, owner, watcher):
        client.logout()
