"""The servers a side-by-side run compares: ours, Debian's Dovecot and Postfix.

Each lives in its own throw-away directory, listens on loopback only and
reads the same users (same names, same passwords, the same SHA512-CRYPT
hashes) and the same seeded maildirs. Nothing here touches the system's own
Dovecot or Postfix: Dovecot gets its own ``base_dir``/``state_dir`` and
config file, Postfix its own ``config_directory`` and queue. Mail of both
references is owned by ``nobody`` (Dovecot refuses root for mail).

Dovecot locks a POP3 maildrop (``pop3_lock_session``) as we do, and is
given an authentication cache (``auth_cache_size``) because our
server has one (the verify cache): without it the comparison would mostly
measure SHA512-CRYPT.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.server import ServerProcess, write_config  # noqa: E402

DOMAIN = "bench.test"
MAIL_OWNER = "nobody"


def free_port() -> int:
    """An unused loopback port for servers that cannot report the one they bound."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.05)


def wait_file(path: Path, timeout: float = 20.0) -> str:
    """Contents of a file a daemon writes shortly after it starts (its pid file)."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            text = path.read_text()
            if text.strip():
                return text
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} did not appear")
        time.sleep(0.05)


def process_tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


@dataclass
class Target:
    """One server under test: its name, ports and where its users' maildirs are."""

    name: str
    directory: Path
    ports: dict[str, int] = field(default_factory=dict)
    pid: int = 0

    def maildir(self, user: str) -> Path:
        raise NotImplementedError

    def delivered(self, user: str) -> int:
        """Messages in ``user``'s maildir (new/ and cur/)."""
        base = self.maildir(user)
        return sum(len(os.listdir(base / sub)) for sub in ("new", "cur") if (base / sub).exists())

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def rss(self) -> int:
        return process_tree_rss(self.pid) if self.pid else 0


class Ours(Target):
    """``mailserver serve`` with limits raised for the load (the defaults guard a lab)."""

    def __init__(
        self,
        directory: Path,
        users: dict[str, str],
        workers: int | None = None,
        transcripts: bool = True,
    ) -> None:
        super().__init__("ours", directory)
        directory.mkdir(parents=True, exist_ok=True)
        extra: dict[str, object] = {
            "domains": [DOMAIN],
            "log_level": "WARNING",
            "limits": {"max_connections": 30000, "max_connections_per_ip": 30000},
        }
        # The server's own default (one worker per core), not the one-process
        # setting tests.support.server writes, unless asked for a number.
        extra["workers"] = workers if workers is not None else "auto"
        if not transcripts:
            # As config/production.yaml: no session transcripts kept for the console.
            extra["transcripts"] = {"keep_sessions": 0}
        self.config_path = write_config(directory, **extra)
        from mailserver.auth import UserDatabase
        from mailserver.config import load_config

        config = load_config(self.config_path)
        UserDatabase(config.user_db_path, scheme=config.auth.password_scheme).add_many(
            users.items()
        )
        self.user_db = config.user_db_path
        self.server = ServerProcess(self.config_path)

    def hashes(self) -> dict[str, str]:
        """Each user's SHA512-CRYPT hash, for the references' password files."""
        raw = yaml.safe_load(self.user_db.read_text())
        entries = raw.get("users", raw)
        out = {}
        for name, entry in entries.items():
            value = entry["password"] if isinstance(entry, dict) else entry
            out[name] = value
        return out

    def maildir(self, user: str) -> Path:
        return self.server.maildir(user)

    def start(self) -> None:
        self.server.start(timeout=60)
        assert self.server.process is not None
        self.pid = self.server.process.pid
        self.ports = dict(self.server.ports)

    def stop(self) -> None:
        self.server.stop(timeout=60)


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


class Dovecot(Target):
    """Debian's dovecot (imapd + pop3d) with a config of its own under ``directory``."""

    def __init__(self, directory: Path, hashes: dict[str, str]) -> None:
        super().__init__("dovecot", directory)
        owner = pwd.getpwnam(MAIL_OWNER)
        self.uid, self.gid = owner.pw_uid, owner.pw_gid
        for sub in ("run", "state", "mail", "index"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        (directory / "passwd").write_text(
            "".join(f"{user}:{{SHA512-CRYPT}}{secret}\n" for user, secret in hashes.items())
        )
        self.ports = {"imap": free_port(), "pop3": free_port()}
        self.config = directory / "dovecot.conf"
        self.config.write_text(
            f"""
base_dir = {directory}/run
state_dir = {directory}/state
instance_name = bench-{os.getpid()}
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_cache_size = 10M
log_path = {directory}/dovecot.log
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:{directory}/mail/%u:INDEX={directory}/index/%u
first_valid_uid = 1
# One POP3 session per maildrop, as ours (RFC 1939 4's exclusive lock).
pop3_lock_session = yes
passdb {{
  driver = passwd-file
  args = {directory}/passwd
}}
userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={directory}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.ports["imap"]}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.ports["pop3"]}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
default_client_limit = 15000
service imap {{
  process_limit = 20000
}}
"""
        )

    def maildir(self, user: str) -> Path:
        return self.directory / "mail" / user

    def start(self) -> None:
        _chown_tree(self.directory / "mail", self.uid, self.gid)
        _chown_tree(self.directory / "index", self.uid, self.gid)
        subprocess.run(["dovecot", "-c", str(self.config)], check=True)
        for port in self.ports.values():
            wait_port(port)
        self.pid = int(wait_file(self.directory / "run" / "master.pid").split()[0])

    def stop(self) -> None:
        subprocess.run(["dovecot", "-c", str(self.config), "stop"], check=False)
        deadline = time.monotonic() + 30
        while self.pid and Path(f"/proc/{self.pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)


class Postfix(Target):
    """Debian's Postfix with its own config and queue directory.

    ``250`` after DATA means the queue file is fsync'd (Postfix's promise);
    its ``virtual`` agent then delivers into the maildir of the bench user.
    """

    def __init__(self, directory: Path, users: list[str]) -> None:
        super().__init__("postfix", directory)
        owner = pwd.getpwnam(MAIL_OWNER)
        self.uid, self.gid = owner.pw_uid, owner.pw_gid
        self.conf = directory / "conf"
        self.queue = directory / "queue"
        for sub in (self.conf, self.queue, directory / "data", directory / "mail"):
            sub.mkdir(parents=True, exist_ok=True)
        self.ports = {"smtp": free_port()}
        mailboxes = ", ".join(f"{user}@{DOMAIN}={user}/" for user in users)
        (self.conf / "main.cf").write_text(
            f"""
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {directory}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.localhost
mydomain = localhost
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_relay_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {directory}/mail
virtual_mailbox_maps = inline:{{ {mailboxes} }}
virtual_uid_maps = static:{self.uid}
virtual_gid_maps = static:{self.gid}
virtual_minimum_uid = 1
maillog_file = {directory}/postfix.log
maillog_file_prefixes = {directory}
biff = no
smtpd_banner = $myhostname ESMTP
default_process_limit = 200
"""
        )
        master = Path("/etc/postfix/master.cf").read_text().splitlines()
        kept = [line for line in master if not line.startswith("smtp ") or "unix" in line]
        kept = [line.replace(" y ", " n ") if " unix " in line else line for line in kept]
        kept.insert(0, f"127.0.0.1:{self.ports['smtp']} inet n - n - - smtpd")
        kept.append("postlog unix-dgram n - n - 1 postlogd")
        (self.conf / "master.cf").write_text("\n".join(kept) + "\n")

    def maildir(self, user: str) -> Path:
        return self.directory / "mail" / user

    def _postfix(self, *args: str) -> None:
        subprocess.run(
            ["postfix", "-c", str(self.conf), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        _chown_tree(self.directory / "mail", self.uid, self.gid)
        postfix = pwd.getpwnam("postfix")
        os.chown(self.directory / "data", postfix.pw_uid, postfix.pw_gid)
        self._postfix("start")
        wait_port(self.ports["smtp"])
        self.pid = int(wait_file(self.queue / "pid" / "master.pid").split()[0])

    def stop(self) -> None:
        subprocess.run(["postfix", "-c", str(self.conf), "stop"], check=False, capture_output=True)
        deadline = time.monotonic() + 30
        while self.pid and Path(f"/proc/{self.pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.pid and Path(f"/proc/{self.pid}").exists():
            os.kill(self.pid, signal.SIGKILL)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
