"""Debian's Dovecot (dovecot-imapd) started by a test on 127.0.0.1, over a maildir of ours.

Everything lives in a throw-away directory: its own ``base_dir`` and
``state_dir``, a passwd-file passdb, a static userdb whose ``mail`` points at
the maildir given, and an IMAP listener on a free loopback port. Dovecot
runs in the foreground (``dovecot -c conf -F``) as a child of the test and
is stopped with it. Dovecot refuses to serve mail as root, so the maildir
is handed to an unprivileged system user (``mail_uid``) for the run and
given back to its owner afterwards.

The namespace uses ``/`` as its separator over the Maildir++ layout, as our
store does, so folder names are the same on both servers.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
#: An unprivileged account Dovecot may serve mail as (Debian creates ``dovenull``).
MAIL_USER = "dovenull"
START_TIMEOUT = 30.0

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:{maildir}
mail_fsync = always
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


def available() -> bool:
    return os.path.exists(DOVECOT) and os.geteuid() == 0 and _mail_user() is not None


def _mail_user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(MAIL_USER)
    except KeyError:
        return None


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    """A directory Dovecot's unprivileged processes can enter (pytest's ``tmp_path``
    is private to root): for its config, state and the maildir it serves."""
    path = Path(tempfile.mkdtemp(prefix="mailserver-dovecot-"))
    try:
        os.chmod(path, 0o755)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for parent, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(parent, name), uid, gid)


@contextlib.contextmanager
def dovecot(root: Path, maildir: Path, user: str, password: str) -> Iterator[int]:
    """Run Dovecot serving ``maildir`` to ``user``; yields its IMAP port.

    ``root`` (created) and ``maildir`` must lie in a :func:`workdir`.
    """
    account = _mail_user()
    assert account is not None
    root.mkdir(mode=0o755, exist_ok=True)
    for sub in ("run", "state", f"home/{user}"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "run", 0o755)
    (root / "passwd").write_text(f"{user}:{{PLAIN}}{password}::::::\n")
    port = free_port()
    conf = root / "dovecot.conf"
    conf.write_text(
        CONFIG.format(root=root, uid=account.pw_uid, gid=account.pw_gid, maildir=maildir, port=port)
    )
    owner = maildir.stat()
    _chown_tree(maildir, account.pw_uid, account.pw_gid)
    _chown_tree(root / "home", account.pw_uid, account.pw_gid)
    process = subprocess.Popen(
        [DOVECOT, "-c", str(conf), "-F"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait_listening(port, process, root)
        yield port
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        if process.stderr is not None:
            process.stderr.close()
        _chown_tree(maildir, owner.st_uid, owner.st_gid)


def _wait_listening(port: int, process: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            raise RuntimeError(f"dovecot exited ({process.returncode}): {err}\n{log}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise RuntimeError("dovecot did not start listening")


def login(port: int, user: str, password: str) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", port, timeout=30)
    client.login(user, password)
    return client
