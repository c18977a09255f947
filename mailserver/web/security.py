"""Who may use a route, the CSRF check, cookies and the security headers.

Every handler starts with :func:`require_user` or :func:`require_admin`
(or is public on purpose: login, autoconfig, static files). Every POST
carries the session's CSRF token, checked here once for all routes.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from mailserver.web.keys import (
    CSRF_EXEMPT,
    NEW_SESSION_KEY,
    SERVICES,
    SESSION_KEY,
    SESSIONS,
    request_session,
)
from mailserver.web.sessions import WebSession

COOKIE_NAME = "mailserver_session"
#: Form field and header that carry the CSRF token.
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"

#: The policy of every page: nothing from elsewhere, no inline script, no
#: plugins; frames only from this site (the sandboxed message body).
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'self'"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebUser:
    """The logged-in account behind a request."""

    def __init__(self, session: WebSession, admin: bool) -> None:
        assert session.user is not None
        self.name: str = session.user
        self.session = session
        self.admin = admin

    @property
    def csrf(self) -> str:
        return self.session.csrf


def current_user(request: web.Request) -> WebUser | None:
    """The logged-in account, or None for a stranger."""
    session = request_session(request)
    if session is None or session.user is None:
        return None
    return WebUser(session, request.app[SERVICES].config.web.is_admin(session.user))


def require_user(request: web.Request) -> WebUser:
    """The logged-in account; strangers are sent to the login page (GET) or refused."""
    user = current_user(request)
    if user is None:
        if request.method in ("GET", "HEAD"):
            raise web.HTTPSeeOther(location="/login?next=" + quote(request.path_qs, safe=""))
        raise web.HTTPUnauthorized(text="Log in first.\n")
    return user


def require_admin(request: web.Request) -> WebUser:
    """An account named in ``web.admins``; anyone else logged in gets 403."""
    user = require_user(request)
    if not user.admin:
        raise web.HTTPForbidden(text="This page is for instructors only.\n")
    return user


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after login; anything pointing elsewhere becomes ``default``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def set_session_cookie(
    request: web.Request, response: web.StreamResponse, session: WebSession
) -> None:
    """The session id cookie: HttpOnly, SameSite=Strict, Secure on https."""
    response.set_cookie(
        COOKIE_NAME,
        session.id,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE_NAME, path="/", samesite="Strict", secure=request.secure)


def ensure_session(request: web.Request) -> WebSession:
    """The visitor's session, creating an anonymous one (for a login form's token)."""
    session = request_session(request)
    if session is None:
        session = request.app[SESSIONS].create()
        request[SESSION_KEY] = session
        request[NEW_SESSION_KEY] = session
    return session


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Find the session named by the cookie; send a new session's cookie with the reply."""
    session = request.app[SESSIONS].get(request.cookies.get(COOKIE_NAME))
    request[SESSION_KEY] = session
    if session is not None and session.user is not None:
        session.requests += 1
    try:
        response = await handler(request)
    finally:
        # Flashes, counts and the idle clock go back to the shared table
        # (also when the handler answers by raising a redirect).
        current = request_session(request)
        if current is not None:
            request.app[SESSIONS].save(current)
    created: WebSession | None = request.get(NEW_SESSION_KEY)
    if created is not None and request_session(request) is created:
        set_session_cookie(request, response, created)
    return response


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a state-changing request that does not carry the session's CSRF token."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.path in request.app[CSRF_EXEMPT]:
        return await handler(request)
    session = request_session(request)
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if session is None or not token or not hmac.compare_digest(token, session.csrf):
        raise web.HTTPForbidden(
            text="The form's security token is missing or out of date: "
            "reload the page and try again.\n"
        )
    return await handler(request)


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every response; a handler's own CSP (stricter) is kept."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _secure_headers(request, exc)
        raise
    _secure_headers(request, response)
    return response


def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:
        return
    headers = response.headers
    headers.setdefault("Content-Security-Policy", PAGE_CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request_session(request) is not None and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    # No Strict-Transport-Security: with the lab's self-signed certificate it
    # would turn the browser's warning into an error nobody can click past.
