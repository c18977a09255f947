"""``workers: 2``: one mailbox used through two worker processes, over real sockets.

Every test makes sure its connections really land in *different* workers:
the kernel hands a connection to whichever worker accepts first, so the
tests reconnect until /proc says the wanted worker holds it
(tests/support/workers.py). Without that, a test could pass in one process.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import poplib
import re
import signal
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.server import ServerProcess
from tests.support.workers import connect_to

USER = "group1_1"
ADDRESS = "group1_1@JServer.NetLab"
SENDER = "group1_2@JServer.NetLab"
TIMEOUT = 20.0

ServerFactory = Callable[..., ServerProcess]


@pytest.fixture
def two_workers(server_factory: ServerFactory) -> ServerProcess:
    server = server_factory(workers=2)
    assert len(server.worker_pids()) == 2
    return server


def imap_on(server: ServerProcess, pid: int) -> imaplib.IMAP4:
    """A logged-in IMAP client served by worker ``pid``."""
    client = connect_to(
        lambda: imaplib.IMAP4(server.host, server.ports["imap"], timeout=TIMEOUT),
        lambda c: c.sock,
        lambda c: c.shutdown(),
        server.worker_pids(),
        pid,
    )
    client.login(USER, USER)
    return client


def pop3_on(server: ServerProcess, pid: int) -> poplib.POP3:
    return connect_to(
        lambda: poplib.POP3(server.host, server.ports["pop3"], timeout=TIMEOUT),
        lambda c: c.sock,
        lambda c: c.close(),
        server.worker_pids(),
        pid,
    )


def smtp_on(server: ServerProcess, pid: int) -> smtplib.SMTP:
    return connect_to(
        lambda: smtplib.SMTP(server.host, server.ports["smtp"], timeout=TIMEOUT),
        lambda c: c.sock,
        lambda c: c.close(),
        server.worker_pids(),
        pid,
    )


def message(subject: str, size: int = 0) -> str:
    return (
        f"From: {SENDER}\r\nTo: {ADDRESS}\r\nSubject: {subject}\r\n\r\n"
        + ("x" * 70 + "\r\n") * (size // 72)
        + "end\r\n"
    )


def maildir_texts(server: ServerProcess, user: str = USER) -> list[bytes]:
    root = server.maildir(user)
    return [p.read_bytes() for sub in ("new", "cur") for p in (root / sub).iterdir()]


# ------------------------------------------------------------- process model


def test_ready_file_names_the_workers_and_sigterm_stops_them_all(
    two_workers: ServerProcess,
) -> None:
    pids = two_workers.worker_pids()
    assert two_workers.process is not None
    for pid in pids:
        assert Path(f"/proc/{pid}").exists()
        assert _parent_of(pid) == two_workers.process.pid
    with smtplib.SMTP(two_workers.host, two_workers.ports["smtp"], timeout=TIMEOUT) as client:
        assert client.noop()[0] == 250
    assert two_workers.stop(timeout=20) == 0
    for pid in pids:
        _wait_gone(pid)
    assert "stopped" in two_workers.log()


def test_implicit_tls_listeners_work_in_every_worker(server_factory: ServerFactory) -> None:
    names = ("smtps", "pop3s", "imaps")
    server = server_factory(workers=2, listeners={name: "127.0.0.1:0" for name in names})
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for pid in server.worker_pids():
        imap = connect_to(
            lambda: imaplib.IMAP4_SSL(
                server.host, server.ports["imaps"], ssl_context=context, timeout=TIMEOUT
            ),
            lambda c: c.sock,
            lambda c: c.shutdown(),
            server.worker_pids(),
            pid,
        )
        assert imap.login(USER, USER)[0] == "OK"
        imap.logout()
    with smtplib.SMTP_SSL(
        server.host, server.ports["smtps"], context=context, timeout=TIMEOUT
    ) as client:
        assert client.noop()[0] == 250
    pop = poplib.POP3_SSL(server.host, server.ports["pop3s"], context=context, timeout=TIMEOUT)
    assert pop.user(USER).startswith(b"+OK")
    pop.quit()


def test_workers_do_not_outlive_a_killed_supervisor(two_workers: ServerProcess) -> None:
    pids = two_workers.worker_pids()
    two_workers.kill()
    for pid in pids:
        _wait_gone(pid)


def test_a_worker_killed_under_load_loses_nothing_acknowledged_and_is_replaced(
    two_workers: ServerProcess,
) -> None:
    victim = two_workers.worker_pids()[0]
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender(number: int) -> None:
        count = 0
        while not stop.is_set():
            count += 1
            token = f"load-{number}-{count}"
            try:
                with smtplib.SMTP(
                    two_workers.host, two_workers.ports["smtp"], timeout=TIMEOUT
                ) as client:
                    client.sendmail(SENDER, [ADDRESS], message(token, 2000))
            except (smtplib.SMTPException, OSError):
                continue  # cut off by the kill: not acknowledged, may or may not be kept
            with lock:
                acknowledged.append(token)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        _wait_until(lambda: len(acknowledged) >= 20, "deliveries before the kill")
        os.kill(victim, signal.SIGKILL)
        _wait_gone(victim)
        with lock:
            at_kill = len(acknowledged)
        _wait_until(lambda: len(acknowledged) >= at_kill + 20, "deliveries after the kill")
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    _wait_until(
        lambda: len(two_workers.worker_pids()) == 2 and victim not in two_workers.worker_pids(),
        "a replacement worker",
    )
    replacement = next(pid for pid in two_workers.worker_pids() if pid != victim)
    assert Path(f"/proc/{replacement}").exists()
    texts = b"\n".join(maildir_texts(two_workers))
    missing = [t for t in acknowledged if f"Subject: {t}\n".encode() not in texts]
    assert not missing, f"{len(missing)} acknowledged messages lost: {missing[:5]}"
    assert "was killed by SIGKILL; starting a new one" in two_workers.log()
    # The new worker serves too.
    with smtp_on(two_workers, two_workers.worker_pids()[0]) as client:
        assert client.noop()[0] == 250


def test_sighup_replaces_every_worker_while_the_server_keeps_serving(
    two_workers: ServerProcess,
) -> None:
    old = set(two_workers.worker_pids())
    assert two_workers.process is not None
    two_workers.process.send_signal(signal.SIGHUP)
    _wait_until(
        lambda: len(set(two_workers.worker_pids()) - old) == 2, "two new workers", timeout=90
    )
    for pid in old:
        _wait_gone(pid)
    new = two_workers.worker_pids()
    for pid in new:
        with smtp_on(two_workers, pid) as client:
            assert client.noop()[0] == 250
    assert "SIGHUP: all workers replaced" in two_workers.log()
    assert two_workers.process.poll() is None


def test_sighup_with_a_broken_config_keeps_the_workers(two_workers: ServerProcess) -> None:
    before = two_workers.worker_pids()
    two_workers.config_path.write_text(
        two_workers.config_path.read_text() + "limits: {max_line_length: big}\n"
    )
    assert two_workers.process is not None
    two_workers.process.send_signal(signal.SIGHUP)
    _wait_until(lambda: "SIGHUP ignored" in two_workers.log(), "the supervisor's refusal")
    assert "limits.max_line_length" in two_workers.log()
    assert two_workers.worker_pids() == before
    for pid in before:
        assert _alive(pid)
        with smtp_on(two_workers, pid) as client:
            assert client.noop()[0] == 250


# ------------------------------------------------------ state across workers


def test_idle_in_one_worker_hears_append_through_the_other(two_workers: ServerProcess) -> None:
    first, second = two_workers.worker_pids()
    watcher = imap_on(two_workers, first)
    writer = imap_on(two_workers, second)
    try:
        typ, data = watcher.select("INBOX")
        assert typ == "OK" and data == [b"0"], data
        watcher.send(b"X1 IDLE\r\n")
        assert watcher.readline() == b"+ idling\r\n"
        started = time.monotonic()
        typ, data = writer.append("INBOX", "", None, message("hello").encode())
        assert typ == "OK", data
        # IDLE re-reads the folder by itself only every 30 s: hearing it well
        # before that is the event channel between the workers at work.
        assert watcher.readline() == b"* 1 EXISTS\r\n"
        assert time.monotonic() - started < 10.0
        writer.select("INBOX")
        writer.store("1", "+FLAGS", "\\Flagged")
        line = watcher.readline()
        if line == b"* 1 RECENT\r\n":  # \Recent is this worker's to give
            line = watcher.readline()
        assert line.startswith(b"* 1 FETCH (FLAGS (") and b"\\Flagged" in line, line
        watcher.send(b"DONE\r\n")
        assert watcher.readline() == b"X1 OK IDLE terminated\r\n"
    finally:
        for client in (watcher, writer):
            with contextlib.suppress(Exception):
                client.logout()


def test_appends_and_flag_changes_through_both_workers_keep_uids_and_modseqs_straight(
    two_workers: ServerProcess,
) -> None:
    """dovecot-uidlist and the mod-sequence journal are shared files: four
    clients, two in each worker, append and flag at once; every APPENDUID is
    distinct, every message is there, and mod-sequences only grow."""
    pids = two_workers.worker_pids()
    clients = [imap_on(two_workers, pids[n % 2]) for n in range(4)]
    uids: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(client: imaplib.IMAP4, number: int) -> None:
        try:
            client.select("INBOX")
            for count in range(10):
                text = message(f"both-{number}-{count}").encode()
                typ, data = client.append("INBOX", "(\\Seen)", None, text)
                assert typ == "OK", data
                code = client.response("APPENDUID")[1][0]
                assert code is not None, data
                with lock:
                    uids.append(int(code.split()[1]))
                typ, data = client.uid("STORE", code.split()[1].decode(), "+FLAGS", "(\\Flagged)")
                assert typ == "OK", data
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(c, n)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert len(uids) == 40 and len(set(uids)) == 40
    checker = clients[0]
    typ, data = checker.uid("FETCH", "1:*", "(UID MODSEQ FLAGS)")
    assert typ == "OK", data
    seen: dict[int, int] = {}
    for line in data:
        assert isinstance(line, bytes), line
        uid = re.search(rb"UID (\d+)", line)
        modseq = re.search(rb"MODSEQ \((\d+)\)", line)
        if uid is None or modseq is None:
            continue  # an unsolicited flag update from another session
        assert b"\\Flagged" in line and b"\\Seen" in line, line
        seen[int(uid.group(1))] = int(modseq.group(1))
    assert sorted(seen) == sorted(uids)
    assert len(set(seen.values())) == 40  # each change its own mod-sequence
    for client in clients:
        with contextlib.suppress(Exception):
            client.logout()


def test_pop3_maildrop_lock_holds_across_workers(two_workers: ServerProcess) -> None:
    first, second = two_workers.worker_pids()
    holder = pop3_on(two_workers, first)
    holder.user(USER)
    holder.pass_(USER)
    other = pop3_on(two_workers, second)
    other.user(USER)
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        other.pass_(USER)
    other.quit()
    holder.quit()
    # Released by QUIT: the other worker may now have it.
    again = pop3_on(two_workers, second)
    again.user(USER)
    assert again.pass_(USER).startswith(b"+OK")
    again.quit()


def test_pop3_lock_of_a_killed_worker_is_released(two_workers: ServerProcess) -> None:
    first, second = two_workers.worker_pids()
    holder = pop3_on(two_workers, first)
    holder.user(USER)
    holder.pass_(USER)
    os.kill(first, signal.SIGKILL)
    _wait_gone(first)
    with contextlib.suppress(OSError):
        holder.close()
    other = pop3_on(two_workers, second)
    other.user(USER)
    assert other.pass_(USER).startswith(b"+OK")
    other.quit()


def test_quota_is_one_limit_across_workers(server_factory: ServerFactory) -> None:
    # Room for two 40 KB messages (with their headers), not three.
    users = ("group1_1", "group1_2", "group1_3")
    server = server_factory(workers=2, quota={"users": {user: 0.09 for user in users}})
    limit = int(0.09 * 1024 * 1024)
    pids = server.worker_pids()
    for user in users:
        # Eight deliveries, four through each worker, finish DATA at the same
        # moment: only a lock both workers take keeps them inside the limit
        # (without one this fails about every other run).
        accepted = _race_deliveries(server, user, [pids[n % 2] for n in range(8)])
        used = sum(_crlf_size(text) for text in maildir_texts(server, user))
        assert accepted == 2, f"{user}: {accepted} of 8 accepted, {used} octets"
        assert used <= limit
    # Either worker agrees the mailbox is full.
    for pid in pids:
        client = imap_on(server, pid)
        try:
            typ, data = client.append("INBOX", "", None, message("one more", 40_000).encode())
            assert typ == "NO" and b"OVERQUOTA" in data[0], data
        finally:
            client.logout()


def _race_deliveries(server: ServerProcess, user: str, pids: list[int]) -> int:
    """One 40 KB delivery to ``user`` through each of ``pids``, DATA sent by all at once;
    how many were accepted."""
    clients = [smtp_on(server, pid) for pid in pids]
    barrier = threading.Barrier(len(clients))
    accepted: list[int] = []
    errors: list[BaseException] = []

    def race(client: smtplib.SMTP) -> None:
        try:
            client.ehlo()
            client.mail(SENDER)
            client.rcpt(f"{user}@JServer.NetLab")
            barrier.wait(TIMEOUT)
            code, _ = client.data(message(f"race-{user}", 40_000).encode())
            if code == 250:
                accepted.append(1)
            client.quit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return len(accepted)


def test_login_throttle_counts_failures_from_every_worker(server_factory: ServerFactory) -> None:
    server = server_factory(
        workers=2,
        auth={"free_failures": 10, "block_after_failures": 4, "block_seconds": 300},
    )
    first, second = server.worker_pids()
    # Two failures in each worker: neither alone reaches 4.
    for pid in (first, second, first, second):
        client = pop3_on(server, pid)
        client.user(USER)
        with pytest.raises(poplib.error_proto):
            client.pass_("wrong")
        client.quit()
    # The failures travel between the workers as events, a moment after the
    # replies: each worker logs the block once its own count reaches 4.
    _wait_until(
        lambda: all(
            any(f"pid {pid}]" in line and "blocked" in line for line in server.log().splitlines())
            for pid in (first, second)
        ),
        "both workers to block 127.0.0.1",
    )
    # Blocked everywhere now, even with the right password.
    for pid in (first, second):
        client = pop3_on(server, pid)
        client.user("group1_2")
        with pytest.raises(poplib.error_proto):
            client.pass_("group1_2")
        client.quit()


# ----------------------------------------------------------------- helpers


def _crlf_size(text: bytes) -> int:
    return len(text) + text.count(b"\n") - text.count(b"\r\n")


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _wait_gone(pid: int, timeout: float = 30.0) -> None:
    _wait_until(lambda: not _alive(pid), f"pid {pid} to exit", timeout)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
