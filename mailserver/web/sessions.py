"""Server-side web sessions: a random id in a cookie, the rest in one table every worker shares.

The cookie carries only an unguessable id (256 random bits); who is logged
in, the CSRF token and the times stay on the server, so logging out or
expiring really ends the session. A visitor gets an anonymous session when
the login form is shown (its CSRF token protects the login POST); logging
in replaces it with a new id, so an id planted before login is worthless.

Why a shared table: with ``workers: N`` each new TCP connection of a browser
may land in any worker, so a session held in one worker's memory would log
the student out (or fail the CSRF check) at random. The table is an SQLite
database under ``data_dir/run/`` in WAL mode, which several processes may
read and write at once. Every statement is a short indexed read or write
(tens of microseconds), so it runs on the event loop; ``synchronous=NORMAL``
skips the fsync per commit, because a session lost in a power cut only
means logging in again (nothing acknowledged to anybody is lost). The file
outlives workers and server restarts, so neither logs anyone out.

Only the SHA-256 of the id is stored: whoever can read ``data_dir`` still
cannot present a stored row as a cookie. Each web listener (``http``,
``https``) has its own store object and sees only its own rows, as before.
The table is bounded per listener: past ``max_sessions`` the oldest rows
go first, login forms before logins. Whenever a logged-in session ends
(logout, expiry, eviction, password reset) ``on_end`` hears of it exactly
once, in whichever worker removed the row (``DELETE ... RETURNING``), so the
event channel says so once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

#: Seconds an anonymous session (a login form) lives.
ANONYMOUS_LIFETIME = 3600.0
#: Most flash messages kept for the next page.
MAX_FLASHES = 5
#: Milliseconds a statement waits for another process's write to finish.
BUSY_TIMEOUT_MS = 5000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS web_sessions (
    key TEXT PRIMARY KEY,
    listener TEXT NOT NULL,
    user TEXT,
    csrf TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    last_seen REAL NOT NULL,
    flashes TEXT NOT NULL DEFAULT '[]',
    event_id TEXT NOT NULL DEFAULT '',
    peer TEXT NOT NULL DEFAULT '',
    started REAL NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    sent INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS web_sessions_by_listener ON web_sessions (listener, created);
"""
_COLUMNS = (
    "key, user, csrf, created, expires, last_seen, flashes, event_id, peer, started, requests, sent"
)


@dataclass
class WebSession:
    """One browser's session; ``user`` is None until it logs in.

    A request works on this copy; :meth:`SessionStore.save` writes back what
    the request changed (flashes, counts, last request time).
    """

    id: str
    csrf: str
    user: str | None
    created: float
    expires: float
    last_seen: float
    #: Short messages shown once on the next page ("Message sent").
    flashes: list[str] = field(default_factory=list)
    #: Session name on the event channel (never the cookie's id), ``[ip]:port`` of the login.
    event_id: str = ""
    peer: str = ""
    #: Wall-clock start and what happened, for the "session closed" event.
    started: float = field(default_factory=time.time)
    requests: int = 0
    sent: int = 0
    #: What the table held when this copy was read: save() writes only the differences.
    loaded: tuple[int, int, tuple[str, ...]] = (0, 0, ())


EndListener = Callable[[WebSession, str], None]


def session_key(session_id: str) -> str:
    """The table's key for a cookie's id (its SHA-256, so the file holds no usable cookie)."""
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


def open_database(path: Path) -> sqlite3.Connection:
    """The session database at ``path`` (created if missing), ready for several processes.

    The workers of ``workers: N`` all open it at the same instant when they
    start. Switching a new file to WAL and creating the table then answer
    "database is locked" at once to all but one of them: SQLite does not call
    the busy handler for those steps (about one worker start in ten failed
    that way). So the whole opening is retried for up to the busy timeout.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        connection = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.executescript(_SCHEMA)
            return connection
        except sqlite3.OperationalError as exc:
            connection.close()
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)


class SessionStore:
    """The sessions of one web listener, with an absolute lifetime and an idle timeout."""

    def __init__(
        self,
        path: Path,
        lifetime: float,
        idle_timeout: float,
        max_sessions: int,
        listener: str = "http",
        clock: Callable[[], float] = time.time,
        on_end: EndListener | None = None,
    ) -> None:
        self.on_end = on_end
        self.lifetime = lifetime
        self.idle_timeout = idle_timeout
        self.max_sessions = max_sessions
        self.listener = listener
        # Wall-clock time: the rows outlive this process (and a reboot).
        self._clock = clock
        self._db = open_database(path)

    def close(self) -> None:
        """Close this process's handle; the sessions stay for the other workers."""
        self._db.close()

    def __len__(self) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM web_sessions WHERE listener = ?", (self.listener,)
        ).fetchone()
        return int(row[0])

    def get(self, session_id: str | None) -> WebSession | None:
        """The live session with this id, or None (unknown, expired or idle too long)."""
        if not session_id:
            return None
        key = session_key(session_id)
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM web_sessions WHERE key = ? AND listener = ?",
            (key, self.listener),
        ).fetchone()
        if row is None:
            return None
        session = _session(row, session_id)
        now = self._clock()
        if self._expired(session, now):
            self._ended(self._delete("key = ?", (key,)), "expired")
            return None
        return session

    def save(self, session: WebSession) -> None:
        """Write back what a request changed; a session ended meanwhile stays ended."""
        requests, sent, flashes = session.loaded
        now = self._clock()
        changed_flashes = tuple(session.flashes) != flashes
        self._db.execute(
            "UPDATE web_sessions SET last_seen = ?, requests = requests + ?, sent = sent + ?,"
            " event_id = ?, peer = ?, started = ?"
            + (", flashes = ?" if changed_flashes else "")
            + " WHERE key = ?",
            (
                now,
                session.requests - requests,
                session.sent - sent,
                session.event_id,
                session.peer,
                session.started,
                *([json.dumps(session.flashes[-MAX_FLASHES:])] if changed_flashes else []),
                session_key(session.id),
            ),
        )
        session.last_seen = now
        session.loaded = (session.requests, session.sent, tuple(session.flashes))

    def create(self, user: str | None = None) -> WebSession:
        """A new session with fresh id and CSRF token; logged in when ``user`` is given."""
        now = self._clock()
        lifetime = self.lifetime if user is not None else min(self.lifetime, ANONYMOUS_LIFETIME)
        session = WebSession(
            id=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            user=user,
            created=now,
            expires=now + lifetime,
            last_seen=now,
        )
        self._db.execute("BEGIN IMMEDIATE")
        try:
            evicted = self._make_room(now)
            self._db.execute(
                "INSERT INTO web_sessions (key, listener, user, csrf, created, expires,"
                " last_seen, started) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_key(session.id),
                    self.listener,
                    user,
                    session.csrf,
                    now,
                    session.expires,
                    now,
                    session.started,
                ),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        for reason, gone in evicted:
            self._ended(gone, reason)
        return session

    def login(self, old: WebSession | None, user: str) -> WebSession:
        """Replace ``old`` (the anonymous session of the login form) by a logged-in one."""
        if old is not None:
            self.drop(old.id)
        return self.create(user)

    def drop(self, session_id: str, reason: str = "logout") -> None:
        self._ended(self._delete("key = ?", (session_key(session_id),)), reason)

    def drop_user(self, user: str) -> int:
        """End every session of ``user`` (password reset); returns how many there were."""
        gone = self._delete("listener = ? AND user = ?", (self.listener, user))
        self._ended(gone, "reset")
        return len(gone)

    def sweep(self) -> int:
        """Forget every expired session now (each worker's timer calls this); returns how many."""
        gone = self._delete_expired(self._clock())
        self._ended(gone, "expired")
        return len(gone)

    def users(self) -> dict[str, int]:
        """Logged-in accounts and how many live sessions each has (for the console)."""
        now = self._clock()
        rows = self._db.execute(
            "SELECT user, COUNT(*) FROM web_sessions WHERE listener = ? AND user IS NOT NULL"
            " AND expires > ? AND last_seen + ? > ? GROUP BY user",
            (self.listener, now, self.idle_timeout, now),
        )
        return {str(user): int(count) for user, count in rows}

    def _expired(self, session: WebSession, now: float) -> bool:
        return now >= session.expires or now - session.last_seen >= self.idle_timeout

    def _delete_expired(self, now: float) -> list[WebSession]:
        return self._delete(
            "listener = ? AND (expires <= ? OR last_seen + ? <= ?)",
            (self.listener, now, self.idle_timeout, now),
        )

    def _delete(self, where: str, args: tuple[object, ...]) -> list[WebSession]:
        """Remove rows and return them; a row removed by another worker is not returned here."""
        rows = self._db.execute(
            f"DELETE FROM web_sessions WHERE {where} RETURNING {_COLUMNS}", args
        ).fetchall()
        return [_session(row, "") for row in rows]

    def _ended(self, sessions: Iterable[WebSession], reason: str) -> None:
        if self.on_end is None:
            return
        for session in sessions:
            if session.user is not None:
                self.on_end(session, reason)

    def _make_room(self, now: float) -> list[tuple[str, list[WebSession]]]:
        """Inside the insert's transaction: free a place, expired rows first, then the oldest."""
        count = len(self)
        if count < self.max_sessions:
            return []
        expired = self._delete_expired(now)
        excess = count - len(expired) - self.max_sessions + 1
        if excess <= 0:
            return [("expired", expired)]
        oldest = self._delete(
            "key IN (SELECT key FROM web_sessions WHERE listener = ?"
            " ORDER BY user IS NOT NULL, created LIMIT ?)",
            (self.listener, excess),
        )
        return [("expired", expired), ("evicted", oldest)]


def _session(row: tuple[object, ...], session_id: str) -> WebSession:
    """A session read from the table (``session_id`` is the cookie's, unknown after a delete)."""
    _key, user, csrf, created, expires, last_seen, flashes, event_id, peer, started = row[:10]
    requests, sent = int(str(row[10])), int(str(row[11]))
    shown = [str(item) for item in json.loads(str(flashes))]
    return WebSession(
        id=session_id,
        csrf=str(csrf),
        user=None if user is None else str(user),
        created=float(str(created)),
        expires=float(str(expires)),
        last_seen=float(str(last_seen)),
        flashes=shown,
        event_id=str(event_id),
        peer=str(peer),
        started=float(str(started)),
        requests=requests,
        sent=sent,
        loaded=(requests, sent, tuple(shown)),
    )
