"""Behaviour of a big folder, measured against the real server over sockets.

Usage: ``python bench/bench_scale.py [--messages N] [--sessions S] [--only WHAT]``

N small messages are dropped into a user's ``new/`` (as an MDA would), and
the server gives them UIDs on the first SELECT. Every step is timed on the
wire, from sending the command to reading its tagged reply, and printed next
to two references measured in the same invocation on the same disk:

* ``stat``: list ``new/`` + ``cur/`` and ``stat`` every file -- the least any
  maildir reader does to learn sizes and dates;
* ``parse``: read every file and parse its header with ``email.parser`` --
  what a server without a parse cache does for ENVELOPE or SEARCH FROM.

A step that scales well costs a small multiple of ``stat`` (or less, once
cached); one that costs a multiple of ``parse`` re-reads messages. Idle
sessions: S logged-in sessions each SELECT the big folder and IDLE; the
server's ``VmRSS`` (from ``/proc/<pid>/status``) before and after gives the
memory per idle session.
"""

from __future__ import annotations

import argparse
import contextlib
import email.parser
import email.policy
import os
import poplib
import smtplib
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.server import ServerProcess, create_users, write_config

USER = "group1_1"
SENDERS = 50
DELIVERIES = 20


def message(number: int) -> bytes:
    sender = f"sender{number % SENDERS}@example.org"
    return (
        f"From: Sender {number % SENDERS} <{sender}>\n"
        f"To: {USER}@JServer.NetLab\n"
        f"Subject: message number {number}\n"
        f"Date: Mon, 7 Dec 2026 10:{number % 60:02d}:00 +0000\n"
        f"Message-ID: <{number}.bench@example.org>\n"
        "\n"
        f"Body of message {number}, word{number % 97}.\n"
        "Some more text so the message is not entirely trivial.\n"
    ).encode()


def populate(maildir: Path, count: int) -> None:
    """Drop messages into ``new/`` the way an MDA does (tmp/, then rename)."""
    base = int(time.time()) - count
    for number in range(count):
        name = f"{base + number}.M{number}P{os.getpid()}.bench"
        tmp = maildir / "tmp" / name
        tmp.write_bytes(message(number))
        os.rename(tmp, maildir / "new" / name)


class Imap:
    """A bare IMAP client: sends a line, reads to the tagged reply, counts lines."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.file = self.sock.makefile("rb")
        self.tag = 0
        self.file.readline()

    def command(self, text: str) -> list[bytes]:
        self.tag += 1
        tag = b"b%d" % self.tag
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("server closed the connection")
            if line.startswith(tag + b" "):
                if not line.startswith(tag + b" OK"):
                    raise RuntimeError(f"{text!r}: {line!r}")
                return lines
            lines.append(line)
            if line.endswith(b"}\r\n"):
                size = int(line[line.rindex(b"{") + 1 : -3])
                lines.append(self.file.read(size))

    def login(self) -> Imap:
        self.command(f"LOGIN {USER} {USER}")
        return self

    def close(self) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            self.command("LOGOUT")
        self.sock.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Report:
    def __init__(self, stat_ref: float, parse_ref: float) -> None:
        self.stat_ref = stat_ref
        self.parse_ref = parse_ref
        print(f"  {'reference: listdir + stat':<44} {stat_ref * 1000:9.1f} ms")
        print(f"  {'reference: read + parse headers':<44} {parse_ref * 1000:9.1f} ms")
        print(f"  {'':<44} {'ms':>9}   {'/stat':>7} {'/parse':>7}")

    def time(self, label: str, action: Callable[[], object]) -> float:
        start = time.perf_counter()
        action()
        elapsed = time.perf_counter() - start
        print(
            f"  {label:<44} {elapsed * 1000:9.1f}   "
            f"{elapsed / self.stat_ref:7.2f} {elapsed / self.parse_ref:7.3f}"
        )
        return elapsed


def reference_stat(maildir: Path) -> float:
    start = time.perf_counter()
    for sub in ("new", "cur"):
        with os.scandir(maildir / sub) as entries:
            for entry in entries:
                entry.stat()
    return time.perf_counter() - start


def reference_parse(maildir: Path) -> float:
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    start = time.perf_counter()
    for sub in ("new", "cur"):
        with os.scandir(maildir / sub) as entries:
            for entry in entries:
                with open(entry.path, "rb") as handle:
                    msg = parser.parse(handle)
                    msg.get("From"), msg.get("Subject"), msg.get("Date")
    return time.perf_counter() - start


def imap_steps(server: ServerProcess, report: Report, count: int) -> None:
    port = server.ports["imap"]
    client = Imap(port).login()
    report.time("SELECT, cold (UIDs assigned)", lambda: client.command("SELECT INBOX"))
    report.time("SELECT, warm", lambda: client.command("SELECT INBOX"))
    report.time("FETCH 1:* (FLAGS UID)", lambda: client.command("FETCH 1:* (FLAGS UID)"))
    both = "FETCH 1:* (ENVELOPE BODYSTRUCTURE)"
    report.time(f"{both}, 1st", lambda: client.command(both))
    report.time(f"{both}, 2nd", lambda: client.command(both))
    report.time("UID SEARCH UNSEEN", lambda: client.command("UID SEARCH UNSEEN"))
    report.time("SEARCH FROM sender7", lambda: client.command("SEARCH FROM sender7"))
    report.time("SEARCH BODY word13", lambda: client.command("SEARCH BODY word13"))
    report.time("NOOP, nothing new", lambda: client.command("NOOP"))
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=60) as smtp:
        smtp.sendmail("x@example.org", [f"{USER}@JServer.NetLab"], message(count))
    report.time("NOOP, one new message", lambda: client.command("NOOP"))
    other = Imap(port).login()
    report.time(
        "STATUS (MESSAGES UNSEEN), other session",
        lambda: other.command("STATUS INBOX (MESSAGES UIDNEXT UNSEEN)"),
    )
    other.close()
    client.close()
    time.sleep(3)  # let the parse cache reach its sidecar file


def delivery_step(server: ServerProcess, report: Report, count: int) -> None:
    """SMTP into the big INBOX against the same into an empty one: what the
    size of the folder adds to each delivery (uid list rewrite, re-scan)."""

    def deliver(user: str) -> None:
        with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=60) as smtp:
            for number in range(DELIVERIES):
                smtp.sendmail("x@example.org", [f"{user}@JServer.NetLab"], message(count + number))

    empty = time_quietly(lambda: deliver("group1_2"))
    big = time_quietly(lambda: deliver(USER))
    print(
        f"  {DELIVERIES} SMTP deliveries: into an empty INBOX {empty * 1000:.0f} ms, "
        f"into this one {big * 1000:.0f} ms, ratio {big / empty:.2f}"
    )


def time_quietly(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def pop3_step(server: ServerProcess, report: Report) -> None:
    def session() -> None:
        client = poplib.POP3("127.0.0.1", server.ports["pop3"], timeout=600)
        client.user(USER)
        client.pass_(USER)
        client.stat()
        client.uidl()
        client.list()
        client.quit()

    report.time("POP3 USER/PASS + STAT + UIDL + LIST", session)


def restart_steps(server: ServerProcess, report: Report) -> None:
    server.stop()
    server.start()
    client = Imap(server.ports["imap"]).login()
    report.time("restart + SELECT", lambda: client.command("SELECT INBOX"))
    both = "FETCH 1:* (ENVELOPE BODYSTRUCTURE)"
    report.time(f"restart + {both}", lambda: client.command(both))
    report.time("restart + SEARCH FROM sender7", lambda: client.command("SEARCH FROM sender7"))
    client.close()


def change_steps(server: ServerProcess, report: Report, count: int) -> None:
    client = Imap(server.ports["imap"]).login()
    client.command("SELECT INBOX")
    report.time(
        "STORE 1:* +FLAGS.SILENT (\\Seen)",
        lambda: client.command("STORE 1:* +FLAGS.SILENT (\\Seen)"),
    )
    report.time(
        f"STORE 1:{count // 2} +FLAGS.SILENT (\\Deleted)",
        lambda: client.command(f"STORE 1:{count // 2} +FLAGS.SILENT (\\Deleted)"),
    )
    report.time("EXPUNGE of half", lambda: client.command("EXPUNGE"))
    client.close()


def idle_step(server: ServerProcess, sessions: int) -> None:
    # A fresh process, so memory freed by the steps before cannot hide growth.
    server.stop()
    server.start()
    assert server.process is not None
    pid = server.process.pid
    warm = Imap(server.ports["imap"]).login()
    warm.command("SELECT INBOX")
    warm.command("FETCH 1:* (FLAGS)")
    before = rss_kib(pid)
    clients = []
    start = time.perf_counter()
    for _ in range(sessions):
        client = Imap(server.ports["imap"]).login()
        client.command("SELECT INBOX")
        client.tag += 1
        client.sock.sendall(b"b%d IDLE\r\n" % client.tag)
        assert client.file.readline().startswith(b"+")
        clients.append(client)
    elapsed = time.perf_counter() - start
    after = rss_kib(pid)
    per = (after - before) / sessions
    print(
        f"  {sessions} sessions SELECT + IDLE: {elapsed * 1000:.0f} ms, "
        f"server RSS {before} -> {after} KiB, {per:.1f} KiB per idle session"
    )
    for client in clients:
        client.sock.sendall(b"DONE\r\n")
        client.close()
    warm.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=300)
    args = parser.parse_args()
    count = args.messages
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as temp:
        directory = Path(temp)
        config = write_config(
            directory,
            limits={
                "max_connections": args.sessions + 50,
                "max_connections_per_ip": args.sessions + 50,
            },
        )
        create_users(config)
        server = ServerProcess(config).start()
        try:
            Imap(server.ports["imap"]).login().close()  # makes the user's maildir
            maildir = server.maildir(USER)
            populate(maildir, count)
            print(f"{count} messages in one folder")
            report = Report(reference_stat(maildir), reference_parse(maildir))
            imap_steps(server, report, count)
            pop3_step(server, report)
            delivery_step(server, report, count)
            restart_steps(server, report)
            change_steps(server, report, count)
            idle_step(server, args.sessions)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
