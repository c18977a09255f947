"""Large messages up and down (issue 15): time and the server's peak RSS.

For 1, 10 and 60 MiB messages: SMTP DATA, IMAP APPEND, POP3 RETR and IMAP
FETCH BODY.PEEK[] against the real server process, one client at a time.
The references in the same run: the floor for the same octets (writing them
to a file with fsync for uploads, reading the stored file for downloads)
and, when Debian's ``dovecot`` is installed, a private Dovecot instance on
a loopback port doing the same APPEND and FETCH. Peak RSS is the growth of
the server's ``VmRSS`` (for Dovecot: the sum over its processes) sampled
every 10 ms during the operation. Postfix DATA is not compared yet.

    .venv/bin/python bench/bench_large.py [--sizes 1 10 60]
"""

from __future__ import annotations

import argparse
import imaplib
import os
import poplib
import shutil
import smtplib
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from passlib.hash import sha512_crypt
from refservers import Dovecot

from tests.support.memory import MIB, rss
from tests.support.server import ServerProcess, create_users, write_config


def message(size: int) -> bytes:
    line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
    return b"Subject: big\r\nFrom: <group1_1@JServer.NetLab>\r\n\r\n" + line * (size // len(line))


def measured(pid: int, action: Callable[[], object]) -> tuple[float, float]:
    """(seconds, peak RSS growth in MiB) of ``action``, sampling RSS every 10 ms."""
    return measured_by(lambda: rss(pid), action)


def measured_by(memory: Callable[[], int], action: Callable[[], object]) -> tuple[float, float]:
    base = memory()
    peak = base
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, memory())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    action()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    return elapsed, (max(peak, memory()) - base) / MIB


def reference_write(directory: Path, data: bytes) -> float:
    path = directory / "reference"
    started = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - started


def reference_read(server: ServerProcess) -> float:
    started = time.perf_counter()
    for sub in ("new", "cur"):
        for entry in os.scandir(server.maildir("group1_1") / sub):
            Path(entry.path).read_bytes()
    return time.perf_counter() - started


def imap_append(port: int, data: bytes) -> None:
    client = imaplib.IMAP4("127.0.0.1", port)
    client.login("group1_1", "group1_1")
    client.append("INBOX", None, None, data)
    client.logout()


def imap_fetch(port: int) -> None:
    client = imaplib.IMAP4("127.0.0.1", port)
    client.login("group1_1", "group1_1")
    client.select("INBOX", readonly=True)
    client.fetch("1", "(BODY.PEEK[])")
    client.logout()


def run_dovecot(sizes: list[int]) -> None:
    if shutil.which("dovecot") is None or os.geteuid() != 0:
        print("\n(Dovecot reference skipped: needs the dovecot package and root)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        # compare.py's Dovecot (refservers.py): one way of starting it for every benchmark.
        Path(tmp).chmod(0o755)  # Dovecot's auth and mail processes are not root
        secret = sha512_crypt.using(rounds=5000).hash("group1_1")
        dovecot = Dovecot(Path(tmp) / "dovecot", {"group1_1": secret})
        dovecot.start()
        port = dovecot.ports["imap"]
        try:
            print(f"\nDovecot, same run\n{'step':<28}{'MiB':>5}{'seconds':>9}{'peak RSS MiB':>14}")
            for mib in sizes:
                data = message(mib * MIB)
                for name, action in (
                    ("Dovecot APPEND", lambda data=data: imap_append(port, data)),
                    ("Dovecot FETCH BODY.PEEK[]", lambda: imap_fetch(port)),
                ):
                    seconds, peak = measured_by(dovecot.rss, action)
                    print(f"{name:<28}{mib:>5}{seconds:>9.3f}{peak:>14.1f}")
                shutil.rmtree(dovecot.maildir("group1_1"), ignore_errors=True)
                shutil.rmtree(dovecot.directory / "index" / "group1_1", ignore_errors=True)
        finally:
            dovecot.stop()


def run(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        config = write_config(directory)
        create_users(config)
        server = ServerProcess(config).start()
        try:
            assert server.process is not None
            pid = server.process.pid
            header = f"{'step':<28}{'MiB':>5}{'seconds':>9}{'ref s':>8}{'ratio':>7}"
            print(header + f"{'peak RSS MiB':>14}")
            for mib in sizes:
                data = message(mib * MIB)
                ref_write = reference_write(directory, data)

                def smtp(data: bytes = data) -> None:
                    with smtplib.SMTP(server.host, server.ports["smtp"]) as client:
                        to = ["group1_2@JServer.NetLab"]
                        client.sendmail("group1_1@JServer.NetLab", to, data)

                def append(data: bytes = data) -> None:
                    client = imaplib.IMAP4(server.host, server.ports["imap"])
                    client.login("group1_1", "group1_1")
                    client.append("INBOX", None, None, data)
                    client.logout()

                def retr() -> None:
                    client = poplib.POP3(server.host, server.ports["pop3"])
                    client.user("group1_1")
                    client.pass_("group1_1")
                    client.retr(1)
                    client.quit()

                def fetch() -> None:
                    client = imaplib.IMAP4(server.host, server.ports["imap"])
                    client.login("group1_1", "group1_1")
                    client.select("INBOX", readonly=True)
                    client.fetch("1", "(BODY.PEEK[])")
                    client.logout()

                for name, action, reference in (
                    ("SMTP DATA", smtp, ref_write),
                    ("IMAP APPEND", append, ref_write),
                    ("POP3 RETR", retr, None),
                    ("IMAP FETCH BODY.PEEK[]", fetch, None),
                ):
                    if reference is None:
                        reference = reference_read(server)
                    seconds, peak = measured(pid, action)
                    ratio = seconds / reference if reference else float("nan")
                    print(
                        f"{name:<28}{mib:>5}{seconds:>9.3f}{reference:>8.3f}"
                        f"{ratio:>7.1f}{peak:>14.1f}"
                    )
                for sub in ("new", "cur"):  # one message at a time in group1_1's INBOX
                    for entry in os.scandir(server.maildir("group1_1") / sub):
                        os.unlink(entry.path)
                server.stop()
                server.start()
                pid = server.process.pid
        finally:
            server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 60], help="MiB")
    sizes = parser.parse_args().sizes
    run(sizes)
    run_dovecot(sizes)


if __name__ == "__main__":
    main()
