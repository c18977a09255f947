"""The frozen configuration objects that components receive.

Nothing reads YAML or the environment after start-up; every component gets
the part of this object it needs (uvicorn's ``Config`` -> ``Server`` habit).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: Protocols the server knows how to listen for, with their customary ports.
DEFAULT_PORTS: dict[str, int] = {
    "smtp": 25,
    "submission": 587,
    "smtps": 465,
    "pop3": 110,
    "pop3s": 995,
    "imap": 143,
    "imaps": 993,
}


@dataclass(frozen=True)
class ListenAddress:
    """One ``host:port`` a listener binds to."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class Limits:
    """Bounds on every input, so no client can make the server grow without limit."""

    max_message_size: int = 73_400_320
    max_line_length: int = 8192
    max_literal_size: int = 73_400_320
    max_recipients: int = 100
    max_connections: int = 500
    max_connections_per_ip: int = 50
    max_bad_commands: int = 20
    #: Longest header section of a received message (Postfix's ``header_size_limit``);
    #: a longer one is refused (``552 5.3.4``, IMAP ``NO [LIMIT]``).
    max_header_size: int = 102_400
    #: Octets per second an upload (SMTP DATA/BDAT) must average over each idle
    #: timeout; a slower trickle does not count as activity and times out.
    min_data_rate: int = 256
    #: Octets all connections together may hold in memory for uploads in progress;
    #: past it new uploads get a temporary error (``452 4.3.1``, ``NO [UNAVAILABLE]``).
    memory_budget: int = 67_108_864
    #: Share (0..1] of ``max_connections`` that connections not logged in may hold
    #: (an SMTP client that never uses AUTH counts as not logged in throughout).
    unauthenticated_share: float = 0.8


@dataclass(frozen=True)
class TimeoutSettings:
    """Idle timeouts in seconds; RFC 1939 asks >= 600 for POP3, RFC 3501 >= 1800 for IMAP."""

    smtp: float = 300.0
    pop3: float = 600.0
    imap: float = 1800.0
    #: Longest a whole session may last, however busy (0 = no limit); the
    #: client is told and may reconnect. SMTP sessions are capped at ten idle timeouts.
    pop3_session: float = 3600.0
    imap_session: float = 86400.0


@dataclass(frozen=True)
class AuthSettings:
    """How passwords are stored and when plaintext logins are allowed."""

    password_scheme: str = "sha512_crypt"
    #: In a lab, seeing the password cross the wire is the point of the exercise.
    allow_plaintext_without_tls: bool = True
    #: Failed logins per address (or account) answered without delay.
    free_failures: int = 3
    #: Delay after the first failure past the free ones; doubles each time.
    failure_delay: float = 0.5
    max_failure_delay: float = 8.0
    #: Failures from one address (within 15 minutes) that block it for ``block_seconds``.
    block_after_failures: int = 10
    block_seconds: float = 300.0
    #: Address ranges (CIDR) that are slowed like any other but never blocked: a lab
    #: room behind one NAT address, where one student's typos must not lock out 30.
    exempt_networks: tuple[str, ...] = ()


@dataclass(frozen=True)
class TlsSettings:
    """Certificate and key; empty means a self-signed pair under data_dir."""

    certificate: Path | None = None
    key: Path | None = None


@dataclass(frozen=True)
class QuotaSettings:
    """Storage limits in MiB; None means unlimited."""

    default_mb: float | None = None
    users: dict[str, float] = field(default_factory=dict)

    def limit_bytes(self, user: str) -> int | None:
        megabytes = self.users.get(user.lower(), self.default_mb)
        return None if megabytes is None else int(megabytes * 1024 * 1024)


#: Folders every new account gets, keyed by their RFC 6154 special-use attribute.
DEFAULT_SPECIAL_FOLDERS: dict[str, str] = {
    "\\Sent": "Sent",
    "\\Drafts": "Drafts",
    "\\Trash": "Trash",
    "\\Junk": "Junk",
    "\\Archive": "Archive",
}


@dataclass(frozen=True)
class Config:
    """Everything the server needs to run, validated once at start-up."""

    hostname: str
    domains: tuple[str, ...]
    data_dir: Path
    listeners: dict[str, ListenAddress] = field(default_factory=dict)
    #: Account that receives mail for ``postmaster@<any served domain>`` (RFC 5321 4.5.1).
    postmaster: str = "postmaster"
    users_file: Path | None = None
    log_level: str = "INFO"
    limits: Limits = field(default_factory=Limits)
    timeouts: TimeoutSettings = field(default_factory=TimeoutSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)
    quota: QuotaSettings = field(default_factory=QuotaSettings)
    #: Special-use attribute -> folder name, created and subscribed for new accounts.
    special_folders: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SPECIAL_FOLDERS))
    #: Worker processes that accept connections (1: everything in one process).
    workers: int = field(default_factory=lambda: default_workers())
    #: Where the YAML came from; relative paths in it were resolved against its folder.
    source: Path | None = None

    @property
    def mail_dir(self) -> Path:
        """Root of all users' maildirs: ``<data_dir>/mail/<user>/``."""
        return self.data_dir / "mail"

    @property
    def user_db_path(self) -> Path:
        return self.users_file if self.users_file is not None else self.data_dir / "users.yaml"

    def is_local_domain(self, domain: str) -> bool:
        """Domains compare case-insensitively and ignore one trailing dot."""
        wanted = domain.rstrip(".").lower()
        return any(wanted == d.lower() for d in self.domains)


def default_workers() -> int:
    """One worker per core this process may run on (the affinity mask, not the
    machine's count: a container limited to 2 of 64 cores gets 2)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
