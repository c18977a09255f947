"""Web logins on the event channel, like the mail protocols' sessions.

A web login is announced as ``session.opened`` + ``session.login`` (protocol
``http``, listener ``http`` or ``https``, ``tls`` as the page was served)
and its end (logout, expiry, eviction, password reset) as
``session.closed``, once, by whichever worker ended it, with counts
``requests`` and ``messages`` (sent). So the instructor console sees who
uses the webmail (exercise 8) the same way it sees SMTP, POP3 and IMAP
sessions. The event's session name is random and unrelated to the cookie:
a console viewer can never take over the login.

Expired sessions are swept once a minute (by every worker; the shared
table gives each expired row to one of them), so a student who just closes
the tab is seen to leave within ``web.idle_timeout`` plus a minute. A
stopping server does not end the logins (they outlive it), so it announces
no ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time

from aiohttp import web

from mailserver.events import Event, Topic
from mailserver.web.keys import LISTENER, SERVICES, SESSIONS
from mailserver.web.sessions import WebSession

#: Seconds between sweeps for expired sessions.
SWEEP_INTERVAL = 60.0

SWEEPER: web.AppKey[list[asyncio.Task[None]]] = web.AppKey("presence_sweeper")


def setup(app: web.Application) -> None:
    """Announce ends of sessions, and sweep expired ones while the listener runs."""
    app[SWEEPER] = []
    sessions = app[SESSIONS]

    def ended(session: WebSession, reason: str) -> None:
        announce_end(app, session, reason)

    sessions.on_end = ended
    app.on_startup.append(_start_sweeper)
    app.on_cleanup.append(_stop)


def _base(app: web.Application, session: WebSession, tls: bool) -> dict[str, object]:
    return {
        "session": session.event_id,
        "protocol": "http",
        "listener": app[LISTENER],
        "peer": session.peer,
        "tls": tls,
    }


def announce_login(request: web.Request, session: WebSession) -> None:
    """``session.opened`` and ``session.login`` for a login that just succeeded."""
    session.event_id = "web-" + secrets.token_hex(6)
    session.started = time.time()
    base = _base(request.app, session, request.secure)
    events = request.app[SERVICES].events
    # To every worker: any of them may end this login (logout, expiry), and each
    # one's archive lists web logins without asking the others.
    events.broadcast(Event(Topic.SESSION_OPENED, base))
    events.broadcast(
        Event(Topic.SESSION_LOGIN, {**base, "user": session.user, "mechanism": "form"})
    )


def announce_end(app: web.Application, session: WebSession, reason: str) -> None:
    if not session.event_id:
        return
    data = {
        **_base(app, session, app[LISTENER] == "https"),
        "user": session.user,
        "duration": round(time.time() - session.started, 3),
        "reason": reason,
        "counts": {"requests": session.requests, "messages": session.sent},
    }
    app[SERVICES].events.broadcast(Event(Topic.SESSION_CLOSED, data))


async def _start_sweeper(app: web.Application) -> None:
    app[SWEEPER].append(asyncio.get_running_loop().create_task(_sweep(app)))


async def _sweep(app: web.Application) -> None:
    while True:
        await asyncio.sleep(SWEEP_INTERVAL)
        app[SESSIONS].sweep()


async def _stop(app: web.Application) -> None:
    for task in app[SWEEPER]:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # The sessions themselves stay: other workers (and the next start) go on serving them.
