"""The frozen configuration objects that components receive.

Nothing reads YAML or the environment after start-up; every component gets
the part of this object it needs (uvicorn's ``Config`` -> ``Server`` habit).
"""

from __future__ import annotations

import functools
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
    "http": 80,
    "https": 443,
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
    #: IMAP command lines (without literals) may be longer: RFC 2971's largest ID
    #: alone is ~32 KiB; 64 KiB is Dovecot's ``imap_max_line_length``.
    imap_max_line_length: int = 65536
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


@dataclass(frozen=True)
class TranscriptSettings:
    """Session transcripts for the instructor: what is kept, where, and how passwords show."""

    #: ``mask`` hides passwords and SASL responses; ``show`` keeps them and decodes
    #: base64 beside them (the lab's lesson: base64 is not encryption).
    passwords: str = "mask"
    #: One text file per session here (for ``tail -f``); None: no files.
    dir: Path | None = None
    #: Finished sessions kept in memory for the console and the control socket.
    keep_sessions: int = 200
    #: ... and at most this many MiB of their lines.
    keep_mb: float = 16.0
    #: Lines of a message body (DATA, APPEND, RETR, FETCH) shown before it is shortened.
    body_lines: int = 8
    #: Lines of one server response (a big FETCH, a LIST of many folders) shown before
    #: the rest is only counted, up to the client's next command; 0: never shortened.
    response_lines: int = 100


@dataclass(frozen=True)
class WebSettings:
    """The web listeners' webmail (and console): who is an instructor, how long logins last."""

    #: Accounts that may open the instructor console (user names, lower case).
    admins: tuple[str, ...] = ()
    #: Seconds a web login lasts, however busy; then the user logs in again.
    session_lifetime: float = 8 * 3600.0
    #: Seconds without a request after which a web login ends.
    idle_timeout: float = 3600.0
    #: Web logins (and login forms) kept at once; the oldest go first past it.
    max_sessions: int = 10_000
    #: Messages per page of the message list.
    page_size: int = 50

    def is_admin(self, user: str | None) -> bool:
        return user is not None and user.lower() in self.admins


#: Folders every new account gets, keyed by their RFC 6154 special-use attribute.
DEFAULT_SPECIAL_FOLDERS: dict[str, str] = {
    "\\Sent": "Sent",
    "\\Drafts": "Drafts",
    "\\Trash": "Trash",
    "\\Junk": "Junk",
    "\\Archive": "Archive",
}


#: How a route or smarthost uses STARTTLS: never, when offered, or insist on it.
TLS_MODES = ("none", "opportunistic", "required")


@dataclass(frozen=True)
class RelayRoute:
    """A next hop named in the config (``relay.routes`` or ``relay.smarthost``)."""

    host: str
    port: int = 25
    tls: str = "opportunistic"
    #: AUTH credentials for a smarthost; both None when the hop needs none.
    username: str | None = None
    password: str | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class RelaySettings:
    """The outbound queue: where mail for other domains goes and how hard we try.

    Defaults are Postfix's: first retry after 5 minutes, doubling up to ~67
    minutes, a delay warning after 4 hours, a bounce after 5 days.
    """

    #: Client networks (CIDR) that may relay without AUTH, e.g. a lab subnet.
    networks: tuple[str, ...] = ()
    #: Domain (or ``*.domain`` for its subdomains), lower case -> next hop.
    routes: dict[str, RelayRoute] = field(default_factory=dict)
    #: Next hop for every domain not routed; None: look up MX records.
    smarthost: RelayRoute | None = None
    min_backoff: float = 300.0
    max_backoff: float = 4000.0
    #: Seconds a message may wait before it bounces (Postfix's maximal_queue_lifetime).
    lifetime: float = 432_000.0
    #: Seconds after which the sender hears that it is delayed (0 = never).
    delay_warning: float = 14_400.0
    #: How often the queue manager looks for new or changed entries.
    scan_interval: float = 1.0
    #: Outbound connections at once, in total and per destination host.
    max_connections: int = 20
    max_per_destination: int = 5
    #: Seconds for the TCP connect and greeting, and for each later reply.
    connect_timeout: float = 30.0
    command_timeout: float = 300.0

    def route_for(self, domain: str) -> RelayRoute | None:
        """The configured next hop for ``domain``: its route, a ``*.parent``
        route, else the smarthost; None means "look up MX"."""
        name = domain.rstrip(".").lower()
        if name in self.routes:
            return self.routes[name]
        labels = name.split(".")
        for index in range(1, len(labels)):
            wildcard = "*." + ".".join(labels[index:])
            if wildcard in self.routes:
                return self.routes[wildcard]
        return self.smarthost


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
    transcripts: TranscriptSettings = field(default_factory=TranscriptSettings)
    #: Special-use attribute -> folder name, created and subscribed for new accounts.
    special_folders: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SPECIAL_FOLDERS))
    #: Worker processes that accept connections (1: everything in one process).
    workers: int = field(default_factory=lambda: default_workers())
    web: WebSettings = field(default_factory=WebSettings)
    relay: RelaySettings = field(default_factory=RelaySettings)
    #: Where the YAML came from; relative paths in it were resolved against its folder.
    source: Path | None = None

    @property
    def mail_dir(self) -> Path:
        """Root of all users' maildirs: ``<data_dir>/mail/<user>/``."""
        return self.data_dir / "mail"

    @property
    def user_db_path(self) -> Path:
        return self.users_file if self.users_file is not None else self.data_dir / "users.yaml"

    @property
    def run_dir(self) -> Path:
        """Sockets and other files of the running server (the control socket)."""
        return self.data_dir / "run"

    @property
    def activity_path(self) -> Path:
        """What each account did, as the server saw it (``lab status`` reads it)."""
        return self.data_dir / "activity.json"

    def is_local_domain(self, domain: str) -> bool:
        """Domains compare case-insensitively and ignore one trailing dot."""
        return domain.rstrip(".").lower() in _lowered(self.domains)


@functools.lru_cache(maxsize=16)
def _lowered(domains: tuple[str, ...]) -> frozenset[str]:
    """``domains`` in lower case, once per configuration rather than per recipient
    (the frozen ``Config`` cannot keep it; a reload brings a new tuple)."""
    return frozenset(d.lower() for d in domains)


def default_workers() -> int:
    """One worker per core this process may run on (the affinity mask, not the
    machine's count: a container limited to 2 of 64 cores gets 2)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
