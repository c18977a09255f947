"""Server-side web sessions: a random id in a cookie, everything else in memory.

The cookie carries only an unguessable id (256 random bits); who is logged
in, the CSRF token and the expiry stay on the server, so logging out or
expiring really ends the session. A visitor gets an anonymous session when
the login form is shown (its CSRF token protects the login POST); logging
in replaces it with a new id, so an id planted before login is worthless.
The table is bounded: past ``max_sessions`` the oldest entries go first.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

#: Seconds an anonymous session (a login form) lives.
ANONYMOUS_LIFETIME = 3600.0


@dataclass
class WebSession:
    """One browser's session; ``user`` is None until it logs in."""

    id: str
    csrf: str
    user: str | None
    created: float
    expires: float
    last_seen: float
    #: Short messages shown once on the next page ("Message sent").
    flashes: list[str] = field(default_factory=list)


class SessionStore:
    """Sessions by id, with an absolute lifetime and an idle timeout."""

    def __init__(
        self,
        lifetime: float,
        idle_timeout: float,
        max_sessions: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lifetime = lifetime
        self.idle_timeout = idle_timeout
        self.max_sessions = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[str, WebSession] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str | None) -> WebSession | None:
        """The live session with this id, or None (unknown, expired or idle too long)."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if now >= session.expires or now - session.last_seen >= self.idle_timeout:
            del self._sessions[session_id]
            return None
        session.last_seen = now
        return session

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
        self._make_room()
        self._sessions[session.id] = session
        return session

    def login(self, old: WebSession | None, user: str) -> WebSession:
        """Replace ``old`` (the anonymous session of the login form) by a logged-in one."""
        if old is not None:
            self.drop(old.id)
        return self.create(user)

    def drop(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def drop_user(self, user: str) -> int:
        """End every session of ``user`` (password reset); returns how many there were."""
        gone = [sid for sid, s in self._sessions.items() if s.user == user]
        for sid in gone:
            del self._sessions[sid]
        return len(gone)

    def users(self) -> dict[str, int]:
        """Logged-in accounts and how many live sessions each has (for the console)."""
        now = self._clock()
        counts: dict[str, int] = {}
        for session in self._sessions.values():
            if session.user is not None and now < session.expires:
                counts[session.user] = counts.get(session.user, 0) + 1
        return counts

    def _make_room(self) -> None:
        now = self._clock()
        if len(self._sessions) < self.max_sessions:
            return
        for sid in [sid for sid, s in self._sessions.items() if now >= s.expires]:
            del self._sessions[sid]
        while len(self._sessions) >= self.max_sessions:
            anonymous = next((sid for sid, s in self._sessions.items() if s.user is None), None)
            if anonymous is not None:
                del self._sessions[anonymous]
            else:
                self._sessions.popitem(last=False)
