"""Real IMAP clients: mutt (reading, deleting, moving) and curl (listing, fetching).

mutt is a full-screen program, so it runs under ``script`` (a pseudo-terminal)
with a muttrc that pushes the keystrokes a user would type; the results are
checked on the server side, through the store.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.imap.conftest import (
    LAB_MESSAGE,
    deliver,
    folders,
    make_message,
    snapshot,
)
from tests.support.server import ServerProcess

pytestmark = pytest.mark.external


def run_mutt(server: ServerProcess, work: Path, keys: str, folder: str = "INBOX") -> str:
    """Run mutt on an IMAP folder, type ``keys``, return what it drew on the terminal."""
    if shutil.which("mutt") is None or shutil.which("script") is None:
        pytest.skip("mutt (Debian package mutt) or script (bsdutils) is not installed")
    base = f"imap://group1_1@{server.host}:{server.ports['imap']}/"
    muttrc = work / "muttrc"
    muttrc.write_text(
        "set imap_user=group1_1\n"
        "set imap_pass=group1_1\n"
        "set ssl_starttls=no\n"
        "set ssl_force_tls=no\n"
        f'set folder="{base}"\n'
        'set spoolfile="+INBOX"\n'
        "set record=\n"
        "set move=no\n"
        "set delete=yes\n"
        "set quit=yes\n"
        "set wait_key=no\n"
        "set confirmappend=no\n"
        "set confirmcreate=no\n"
        "set pipe_decode=yes\n"
        "set imap_passive=no\n"
        "set timeout=5\n"
        f'push "{keys}"\n'
    )
    command = f"mutt -n -F {shlex.quote(str(muttrc))} -f {shlex.quote(base + folder)}"
    env = {**os.environ, "TERM": "vt100", "HOME": str(work), "LANG": "C.UTF-8"}
    result = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    return result.stdout.decode("utf-8", "replace")


def test_mutt_reads_a_message(mail_server: ServerProcess, tmp_path: Path) -> None:
    deliver(mail_server, [LAB_MESSAGE])
    out = tmp_path / "piped.txt"
    keys = f"<pipe-message>cat > {out}<enter><display-message><exit><quit>"
    screen = run_mutt(mail_server, tmp_path, keys)
    assert out.exists(), f"mutt did not pipe the message; screen was:\n{screen}"
    text = out.read_text("utf-8")
    assert "Subject: Test mail 3" in text
    assert "This is a test mail!" in text
    # Reading marked it \Seen on the server: read in one client, read in all.
    assert "\\Seen" in snapshot(mail_server).messages[0].flags


def test_mutt_deletes_a_message(mail_server: ServerProcess, tmp_path: Path) -> None:
    deliver(mail_server, [make_message(1), make_message(2)])
    screen = run_mutt(mail_server, tmp_path, "<delete-message><sync-mailbox><quit>")
    remaining = snapshot(mail_server).messages
    assert [m.uid for m in remaining] == [2], screen


def test_mutt_moves_a_message(mail_server: ServerProcess, tmp_path: Path) -> None:
    deliver(mail_server, [make_message(1, subject="move me"), make_message(2)])
    deliver(mail_server, [], folder="INBOX")
    screen = run_mutt(mail_server, tmp_path, "<save-message>=Archive<enter><sync-mailbox><quit>")
    assert "Archive" in folders(mail_server), screen
    archived = snapshot(mail_server, folder="Archive").messages
    assert len(archived) == 1, screen
    assert [m.uid for m in snapshot(mail_server).messages] == [2]


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    return subprocess.run(
        ["curl", "-s", "--max-time", "20", *args], capture_output=True, timeout=30
    )


def test_curl_lists_and_fetches(mail_server: ServerProcess) -> None:
    deliver(mail_server, [make_message(1), LAB_MESSAGE])
    base = f"imap://{mail_server.host}:{mail_server.ports['imap']}"
    listing = curl(f"{base}/", "-u", "group1_1:group1_1")
    assert listing.returncode == 0, listing.stderr
    assert b'* LIST (\\HasNoChildren) "/" INBOX' in listing.stdout
    fetched = curl(f"{base}/INBOX;UID=2", "-u", "group1_1:group1_1")
    assert fetched.returncode == 0
    assert fetched.stdout == LAB_MESSAGE
    examined = curl(f"{base}/INBOX", "-u", "group1_1:group1_1", "-X", "EXAMINE INBOX")
    assert b"2 EXISTS" in examined.stdout
    denied = curl(f"{base}/", "-u", "group1_1:wrong")
    assert denied.returncode != 0
