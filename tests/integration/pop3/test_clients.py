"""Real mail clients: fetchmail in keep and delete mode, curl listing and retrieving."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.pop3.conftest import deliver, inbox, make_message
from tests.support.server import ServerProcess

pytestmark = pytest.mark.external


def run_fetchmail(server: ServerProcess, tmp_path: Path, keep: bool) -> tuple[int, str, bytes]:
    """Run fetchmail once; returns (exit code, its log, what the MDA received)."""
    if shutil.which("fetchmail") is None:
        pytest.skip("fetchmail is not installed (apt-get install fetchmail)")
    home = tmp_path / "fetchmail-home"
    home.mkdir(exist_ok=True)
    delivered = home / "delivered.mbox"
    rc = home / "fetchmailrc"
    rc.write_text(
        "set no bouncemail\n"
        f"poll 127.0.0.1 service {server.ports['pop3']} protocol pop3 uidl\n"
        "  user 'group1_1' there with password 'group1_1' is 'student' here\n"
        f"  {'keep' if keep else 'nokeep'}\n"
        "  sslproto '' no sslcertck\n"
        f"  mda 'cat >> {delivered}'\n"
    )
    rc.chmod(0o600)
    env = {**os.environ, "HOME": str(home), "FETCHMAILHOME": str(home)}
    result = subprocess.run(
        [
            "fetchmail",
            "-f",
            str(rc),
            "-i",
            str(home / "fetchids"),
            "--pidfile",
            str(home / "fetchmail.pid"),
            "-v",
            "--nodetach",
            "--nosyslog",
        ],
        env=env,
        capture_output=True,
        timeout=60,
    )
    log = (result.stdout + result.stderr).decode(errors="replace")
    data = delivered.read_bytes() if delivered.exists() else b""
    return result.returncode, log, data


def test_fetchmail_keep_mode(mail_server: ServerProcess, tmp_path: Path) -> None:
    deliver(mail_server, "group1_1", [make_message(1), make_message(2)])
    code, log, data = run_fetchmail(mail_server, tmp_path, keep=True)
    assert code == 0, log
    assert data.count(b"Subject: Test mail") == 2, log
    assert len(inbox(mail_server).messages) == 2
    # Kept mail is not fetched again: fetchmail remembers the UIDLs (exit 1 = no new mail).
    code, log, data = run_fetchmail(mail_server, tmp_path, keep=True)
    assert code == 1, log
    assert data.count(b"Subject: Test mail") == 2, log


def test_fetchmail_delete_mode(mail_server: ServerProcess, tmp_path: Path) -> None:
    deliver(mail_server, "group1_1", [make_message(n) for n in range(1, 4)])
    code, log, data = run_fetchmail(mail_server, tmp_path, keep=False)
    assert code == 0, log
    for n in range(1, 4):
        assert f"Subject: Test mail {n}".encode() in data, log
    assert inbox(mail_server).messages == ()
    code, log, _ = run_fetchmail(mail_server, tmp_path, keep=False)
    assert code == 1, log


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    return subprocess.run(["curl", "-s", "-S", *args], capture_output=True, timeout=60)


def test_curl_lists_and_retrieves(mail_server: ServerProcess) -> None:
    messages = [make_message(1), make_message(2, b".dotted\r\nline\r\n")]
    deliver(mail_server, "group1_1", messages)
    base = f"pop3://127.0.0.1:{mail_server.ports['pop3']}"
    listing = curl(f"{base}/", "-u", "group1_1:group1_1")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.split(b"\r\n")[:2] == [
        f"1 {len(messages[0])}".encode(),
        f"2 {len(messages[1])}".encode(),
    ]
    retrieved = curl(f"{base}/2", "-u", "group1_1:group1_1")
    assert retrieved.returncode == 0, retrieved.stderr
    assert retrieved.stdout == messages[1]
    wrong = curl(f"{base}/", "-u", "group1_1:wrong")
    assert wrong.returncode != 0
