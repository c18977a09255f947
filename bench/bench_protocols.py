"""End-to-end protocol benchmark against references run in the same invocation.

Usage: ``python bench/bench_protocols.py [--messages N]``

* SMTP delivery: N messages over one smtplib connection to our server, which
  fsyncs each copy before its ``250``, against stock aiosmtpd with its sample
  ``Mailbox`` handler (Python's ``mailbox.Maildir``, no fsync) on the same
  disk. The ratio is the price of "nothing acknowledged is ever lost".
* Repeated logins: N POP3 USER/PASS logins by the same user (what a mail
  client polling every minute does); the reference is N POP3 connections that
  only read the greeting and QUIT. The ratio shows what the verify cache buys.
* Download: POP3 RETR of every message against IMAP ``FETCH 1:* BODY.PEEK[]``
  of the same mailbox, and both against reading the files directly.
"""

from __future__ import annotations

import argparse
import imaplib
import mailbox
import poplib
import smtplib
import socket
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.server import ServerProcess, create_users, write_config


def message(number: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "group1_2@JServer.NetLab"
    msg["To"] = "group1_1@JServer.NetLab"
    msg["Subject"] = f"benchmark {number}"
    msg.set_content("A line of text in a benchmark message.\n" * 60)
    return msg


def timed(label: str, action) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    elapsed = time.perf_counter() - start
    print(f"  {label:<48} {elapsed * 1000:9.1f} ms")
    return elapsed


def send_all(port: int, count: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        for number in range(count):
            client.send_message(message(number))


def reference_smtp(directory: Path, count: int) -> float:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    port = free_port()
    controller = Controller(
        Mailbox(str(directory / "ref-maildir")), hostname="127.0.0.1", port=port
    )
    controller.start()
    try:
        return timed("reference: stock aiosmtpd Mailbox handler", lambda: send_all(port, count))
    finally:
        controller.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pop3_logins(port: int, count: int, login: bool) -> None:
    for _ in range(count):
        client = poplib.POP3("127.0.0.1", port, timeout=30)
        if login:
            client.user("group1_1")
            client.pass_("group1_1")
        client.quit()


def pop3_download(port: int) -> None:
    client = poplib.POP3("127.0.0.1", port, timeout=60)
    client.user("group1_1")
    client.pass_("group1_1")
    count, _ = client.stat()
    for number in range(1, count + 1):
        client.retr(number)
    client.quit()


def imap_download(port: int) -> None:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=60)
    client.login("group1_1", "group1_1")
    client.select("INBOX", readonly=True)
    client.fetch("1:*", "(BODY.PEEK[])")
    client.logout()


def read_files(maildir: Path) -> None:
    for key, msg in mailbox.Maildir(str(maildir), create=False).iteritems():
        assert key and msg.as_bytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=200)
    count = parser.parse_args().messages
    with tempfile.TemporaryDirectory(prefix="bench-") as temp:
        directory = Path(temp)
        config = write_config(directory)
        create_users(config)
        server = ServerProcess(config).start()
        try:
            print(f"SMTP delivery of {count} messages (one connection)")
            ours = timed(
                "mailserver (fsync before 250)", lambda: send_all(server.ports["smtp"], count)
            )
            ref = reference_smtp(directory, count)
            print(f"  ratio ours/reference: {ours / ref:.2f}\n")

            print(f"{count} POP3 connections")
            ref = timed(
                "reference: greeting + QUIT only",
                lambda: pop3_logins(server.ports["pop3"], count, False),
            )
            ours = timed(
                "USER/PASS each time (verify cache)",
                lambda: pop3_logins(server.ports["pop3"], count, True),
            )
            print(f"  ratio login/no-login: {ours / ref:.2f}\n")

            print(f"Downloading {count} messages")
            ref = timed(
                "reference: read the maildir files directly",
                lambda: read_files(server.maildir("group1_1")),
            )
            pop = timed("POP3 RETR each", lambda: pop3_download(server.ports["pop3"]))
            imap = timed("IMAP FETCH 1:* BODY.PEEK[]", lambda: imap_download(server.ports["imap"]))
            print(f"  ratio POP3/reference: {pop / ref:.2f}   IMAP/reference: {imap / ref:.2f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
