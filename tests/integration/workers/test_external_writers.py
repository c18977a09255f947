"""Another program writes into the maildir (an MDA such as Postfix's local or
Dovecot's LDA): an IDLE client hears of it at once (inotify), not only at
IDLE's own re-read every 30 s."""

from __future__ import annotations

import imaplib
import os
import time

from tests.support.server import ServerProcess

USER = "group1_1"


def drop_into_maildir(server: ServerProcess, name: str, text: bytes) -> None:
    """What any maildir MDA does: write into tmp/, fsync, rename into new/."""
    root = server.maildir(USER)
    temp = root / "tmp" / name
    with open(temp, "wb") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(temp, root / "new" / name)


def test_idle_hears_a_message_another_program_delivered(mail_server: ServerProcess) -> None:
    client = imaplib.IMAP4(mail_server.host, mail_server.ports["imap"], timeout=20)
    try:
        client.login(USER, USER)
        typ, data = client.select("INBOX")
        assert typ == "OK" and data == [b"0"], data
        client.send(b"X1 IDLE\r\n")
        assert client.readline() == b"+ idling\r\n"
        started = time.monotonic()
        drop_into_maildir(
            mail_server,
            f"{int(time.time())}.external{os.getpid()}.host",
            b"From: a@b\nSubject: dropped in\n\nhello\n",
        )
        assert client.readline() == b"* 1 EXISTS\r\n"
        assert time.monotonic() - started < 10.0  # IDLE's own re-read: 30 s
        client.send(b"DONE\r\n")
        line = client.readline()
        while line.startswith(b"* "):
            line = client.readline()
        assert line == b"X1 OK IDLE terminated\r\n"
        typ, data = client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK" and b"dropped in" in data[0][1], data
    finally:
        client.logout()
