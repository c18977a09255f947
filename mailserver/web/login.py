"""Log in, log out, and the front page.

Logins go through ``services.auth`` like SMTP AUTH, POP3 and IMAP do: the
same accounts, the same guessing throttle and the same block. Over plain
http a login is allowed only when ``auth.allow_plaintext_without_tls`` is
(as for the mail protocols); otherwise the page points to the https URL.
"""

from __future__ import annotations

import logging

from aiohttp import web

from mailserver.web.keys import LISTENER, SERVICES, SESSIONS, request_session
from mailserver.web.presence import announce_login
from mailserver.web.security import (
    clear_session_cookie,
    current_user,
    ensure_session,
    safe_next,
    set_session_cookie,
)
from mailserver.web.templates import render

log = logging.getLogger("mailserver.web")

#: Where "/" sends a logged-in user.
HOME = "/mail/"
#: Longest login name or password considered (longer ones simply fail).
MAX_FIELD = 512


def setup(app: web.Application) -> None:
    app.router.add_get("/", front_page)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)


async def front_page(request: web.Request) -> web.StreamResponse:
    """Stranger: the login page; logged in: the inbox."""
    target = HOME if current_user(request) is not None else "/login"
    raise web.HTTPSeeOther(location=target)


def _plaintext_refused(request: web.Request) -> bool:
    config = request.app[SERVICES].config
    return not request.secure and not config.auth.allow_plaintext_without_tls


def _https_url(request: web.Request) -> str | None:
    services = request.app[SERVICES]
    config = services.config
    address = config.listeners.get("https")
    if address is None:
        return None
    bound = services.ports.get("https", address.port)  # ``:0`` in the config: the real one
    port = "" if bound == 443 else f":{bound}"
    return f"https://{request.url.host or config.hostname}{port}/login"


def _login_page(
    request: web.Request, error: str = "", login: str = "", status: int = 200
) -> web.Response:
    ensure_session(request)
    return render(
        request,
        "login.html",
        status=status,
        error=error,
        login=login,
        next=safe_next(request.query.get("next"), HOME),
        plaintext_refused=_plaintext_refused(request),
        https_url=_https_url(request),
        secure=request.secure,
        listener=request.app[LISTENER],
    )


async def login_form(request: web.Request) -> web.StreamResponse:
    if current_user(request) is not None:
        raise web.HTTPSeeOther(location=safe_next(request.query.get("next"), HOME))
    return _login_page(request)


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    login = str(form.get("login", "")).strip()[:MAX_FIELD]
    password = str(form.get("password", ""))[:MAX_FIELD]
    target = safe_next(str(form.get("next", "")), HOME)
    if _plaintext_refused(request):
        return _login_page(
            request, "Logins without TLS are turned off here: use the https address.", login, 403
        )
    auth = request.app[SERVICES].auth
    client = request.remote
    if auth.throttle.is_blocked(client):
        log.info("%s web login refused: address blocked (%s)", _peer(request), login[:64])
        return _login_page(
            request,
            "Too many failed logins from your address: logins are blocked for a while. "
            "Ask the instructor, or wait and try again.",
            login,
            429,
        )
    user = await auth.authenticate(login, password, client=client) if login and password else None
    if user is None:
        log.info("%s web login failed for %r", _peer(request), login[:64])
        return _login_page(request, "Wrong account name or password.", login, 401)
    log.info("%s web login %s (%s)", _peer(request), user, request.app[LISTENER])
    sessions = request.app[SESSIONS]
    session = sessions.login(request_session(request), user)
    session.peer = _peer(request).replace("[", "").replace("]", "")
    announce_login(request, session)
    sessions.save(session)  # the event name and peer, for the end's event in any worker
    response = web.HTTPSeeOther(location=target)
    set_session_cookie(request, response, session)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    session = request_session(request)
    if session is not None:
        request.app[SESSIONS].drop(session.id)
        if session.user is not None:
            log.info("%s web logout %s", _peer(request), session.user)
    response = web.HTTPSeeOther(location="/login")
    clear_session_cookie(request, response)
    raise response


def _peer(request: web.Request) -> str:
    """``[ip]:port`` of the browser, as the mail protocols' log lines name clients."""
    peername = request.transport.get_extra_info("peername") if request.transport else None
    if isinstance(peername, tuple) and len(peername) >= 2:
        return f"[{peername[0]}]:{peername[1]}"
    return f"[{request.remote}]"
