"""Two-way sync with real synchronisers: isync's ``mbsync`` and ``offlineimap3``.

A test account with a few folders is synced into a local maildir, both sides
are changed (new mail over SMTP, a flag changed and a message deleted on the
server; a flag changed, a message deleted, a message and a folder added
locally), synced again, and then both sides must hold the same messages
with the same flags. A third run must find nothing left to do.

Skipped only when the program is not installed (Debian packages ``isync``
and ``offlineimap3``).
"""

from __future__ import annotations

import email
import imaplib
import re
import shutil
import smtplib
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.imap.conftest import login
from tests.support.server import ServerProcess

USER = "group1_1"
ADDRESS = f"{USER}@JServer.NetLab"
#: IMAP system flags <-> maildir info letters, as both synchronisers map them.
LETTERS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S"}
SYNC_TIMEOUT = 60

# Each side's state: folder -> {Message-ID: set of maildir letters}.
State = dict[str, dict[str, frozenset[str]]]


def mail(mid: str, subject: str) -> bytes:
    return (
        f"From: nick <group1_2@JServer.NetLab>\r\nTo: {ADDRESS}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{mid}@lab>\r\n\r\nThis is {subject}.\r\n"
    ).encode()


def short_id(data: bytes) -> str:
    """``b`` for ``Message-ID: <b@lab>``."""
    return str(email.message_from_bytes(data)["Message-ID"]).strip().strip("<>").split("@")[0]


def smtp_send(server: ServerProcess, mid: str) -> None:
    with smtplib.SMTP(server.host, server.ports["smtp"], timeout=20) as client:
        client.sendmail("group1_2@JServer.NetLab", [ADDRESS], mail(mid, f"mail {mid}"))


def server_state(server: ServerProcess) -> State:
    client = login(server, USER)
    try:
        state: State = {}
        _, listing = client.list()
        for raw in listing:
            assert isinstance(raw, bytes)
            match = re.match(rb'\((?P<attrs>[^)]*)\) "/" (?P<name>.+)', raw)
            assert match, raw
            if b"\\Noselect" in match["attrs"]:
                continue
            name = match["name"].decode().strip('"')
            typ, _ = client.select(f'"{name}"', readonly=True)
            assert typ == "OK", name
            _, data = client.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            folder: dict[str, frozenset[str]] = {}
            for item in data:
                if not isinstance(item, tuple):
                    continue
                flags = re.findall(rb"\\[A-Za-z]+", item[0].split(b"BODY", 1)[0])
                mid = short_id(item[1])
                folder[mid] = frozenset(LETTERS[f.decode()] for f in flags if f.decode() in LETTERS)
            state[name] = folder
        return state
    finally:
        client.logout()


def local_state(root: Path, folder_dirs: dict[str, Path]) -> State:
    state: State = {}
    for name, path in folder_dirs.items():
        folder: dict[str, frozenset[str]] = {}
        for sub in ("new", "cur"):
            for file in (path / sub).glob("*"):
                info = file.name.rsplit(":2,", 1)[1] if ":2," in file.name else ""
                mid = short_id(file.read_bytes())
                folder[mid] = frozenset(c for c in info if c in "DFRS")
        state[name] = folder
    return state


def maildir_folders(root: Path) -> dict[str, Path]:
    """Every maildir under ``root`` (a folder with ``cur``), by its name with ``/``."""
    return {
        cur.parent.relative_to(root).as_posix(): cur.parent
        for cur in root.rglob("cur")
        if cur.is_dir() and (cur.parent / "new").is_dir()
    }


def find(folder: Path, mid: str) -> Path:
    for sub in ("new", "cur"):
        for file in (folder / sub).glob("*"):
            if f"<{mid}@lab>".encode() in file.read_bytes():
                return file
    raise AssertionError(f"{mid} not in {folder}")


def seed(server: ServerProcess) -> None:
    """INBOX: a, b, c over SMTP; Work: w; Projects/2024: p (nested)."""
    for mid in ("a", "b", "c"):
        smtp_send(server, mid)
    client = login(server, USER)
    try:
        for name, mid in (("Work", "w"), ("Projects/2024", "p")):
            assert client.create(name)[0] == "OK"
            typ, _ = client.append(name, "", imaplib.Time2Internaldate(time.time()), mail(mid, mid))
            assert typ == "OK"
    finally:
        client.logout()


def change_server(server: ServerProcess) -> None:
    """Delete a, flag b on the server; d arrives over SMTP."""
    client = login(server, USER)
    try:
        client.select("INBOX")
        _, found = client.search(None, "HEADER", "Message-ID", "a@lab")
        client.store(found[0].decode(), "+FLAGS", "\\Deleted")
        client.expunge()
        _, found = client.search(None, "HEADER", "Message-ID", "b@lab")
        client.store(found[0].decode(), "+FLAGS", "\\Flagged")
    finally:
        client.logout()
    smtp_send(server, "d")


def change_local(inbox: Path, work: Path, new_folder: Path) -> None:
    """Mark c seen, delete w, add l to Work and a new folder Local with m."""
    c = find(inbox, "c")
    info = c.name.rsplit(":2,", 1)[1] if ":2," in c.name else ""
    base = c.name.rsplit(":2,", 1)[0]
    c.rename(inbox / "cur" / f"{base}:2,{''.join(sorted(set(info) | {'S'}))}")
    find(work, "w").unlink()
    (work / "new" / f"{int(time.time())}.local-l.lab").write_bytes(mail("l", "local l"))
    for sub in ("new", "cur", "tmp"):
        (new_folder / sub).mkdir(parents=True)
    (new_folder / "new" / f"{int(time.time())}.local-m.lab").write_bytes(mail("m", "local m"))


def expected() -> dict[str, dict[str, frozenset[str]]]:
    return {
        "INBOX": {"b": frozenset("F"), "c": frozenset("S"), "d": frozenset()},
        "Work": {"l": frozenset()},
        "Projects/2024": {"p": frozenset()},
        "Local": {"m": frozenset()},
    }


def check_both_sides(server: ServerProcess, root: Path) -> None:
    remote = server_state(server)
    local = local_state(root, maildir_folders(root))
    for name, messages in expected().items():
        assert remote.get(name) == messages, (name, remote)
        assert local.get(name) == messages, (name, local)
    # The default folders came along too, empty, and nothing else differs.
    assert remote == local


def run(argv: list[str], cwd: Path) -> str:
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=SYNC_TIMEOUT, check=False
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    return output


@pytest.fixture
def sync_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory(listeners={"smtp": "127.0.0.1:0", "imap": "127.0.0.1:0"})


# ------------------------------------------------------------------ mbsync


def mbsync_config(server: ServerProcess, root: Path) -> str:
    return f"""
IMAPAccount lab
Host {server.host}
Port {server.ports["imap"]}
User {USER}
Pass {USER}
SSLType None
AuthMechs LOGIN PLAIN

IMAPStore lab-remote
Account lab

MaildirStore lab-local
Path {root}/
Inbox {root}/INBOX
SubFolders Verbatim

Channel lab
Far :lab-remote:
Near :lab-local:
Patterns *
Create Both
Remove Both
Expunge Both
SyncState *
Sync All
"""


@pytest.mark.skipif(shutil.which("mbsync") is None, reason="isync (mbsync) is not installed")
def test_mbsync_two_way_sync(sync_server: ServerProcess, tmp_path: Path) -> None:
    root = tmp_path / "Mail"
    root.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(mbsync_config(sync_server, root))
    seed(sync_server)
    run(["mbsync", "-c", str(rc), "lab"], tmp_path)
    first = local_state(root, maildir_folders(root))
    assert set(first["INBOX"]) == {"a", "b", "c"}
    assert set(first["Work"]) == {"w"} and set(first["Projects/2024"]) == {"p"}
    assert {"Sent", "Drafts", "Trash", "Junk", "Archive"} <= set(first)

    change_server(sync_server)
    change_local(root / "INBOX", root / "Work", root / "Local")
    run(["mbsync", "-c", str(rc), "lab"], tmp_path)
    check_both_sides(sync_server, root)

    output = run(["mbsync", "-V", "-c", str(rc), "lab"], tmp_path)
    check_both_sides(sync_server, root)
    assert "Error" not in output and "error" not in output.lower().replace("errors: 0", "")
    assert "Traceback" not in sync_server.log()


# ------------------------------------------------------------ offlineimap3


def offlineimap_config(server: ServerProcess, root: Path, meta: Path) -> str:
    return f"""
[general]
accounts = lab
metadata = {meta}
ui = basic

[Account lab]
localrepository = lab-local
remoterepository = lab-remote

[Repository lab-local]
type = Maildir
localfolders = {root}
sep = /

[Repository lab-remote]
type = IMAP
remotehost = {server.host}
remoteport = {server.ports["imap"]}
remoteuser = {USER}
remotepass = {USER}
ssl = no
starttls = no
auth_mechanisms = LOGIN, PLAIN
createfolders = True
"""


@pytest.mark.skipif(
    shutil.which("offlineimap3") is None and shutil.which("offlineimap") is None,
    reason="offlineimap3 is not installed",
)
def test_offlineimap_two_way_sync(sync_server: ServerProcess, tmp_path: Path) -> None:
    program = shutil.which("offlineimap3") or shutil.which("offlineimap")
    assert program is not None
    root = tmp_path / "Mail"
    root.mkdir()
    rc = tmp_path / "offlineimaprc"
    rc.write_text(offlineimap_config(sync_server, root, tmp_path / "meta"))
    argv = [program, "-c", str(rc), "-o", "-u", "basic"]
    seed(sync_server)
    run(argv, tmp_path)
    first = local_state(root, maildir_folders(root))
    assert set(first["INBOX"]) == {"a", "b", "c"}
    assert set(first["Projects/2024"]) == {"p"}

    change_server(sync_server)
    change_local(root / "INBOX", root / "Work", root / "Local")
    run(argv, tmp_path)
    check_both_sides(sync_server, root)
    run(argv, tmp_path)
    check_both_sides(sync_server, root)
    assert "Traceback" not in sync_server.log()
