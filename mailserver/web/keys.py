"""Typed keys for what the web application and each request carry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from mailserver.services import Services

if TYPE_CHECKING:
    from mailserver.web.nav import NavLink
    from mailserver.web.sessions import SessionStore, WebSession

#: The shared store, authenticator, config and event channel.
SERVICES = web.AppKey("services", Services)
#: Logins of this listener (each web listener has its own).
SESSIONS: web.AppKey[SessionStore] = web.AppKey("sessions")
#: Links in the top bar: what modules added with ``add_nav``.
NAV: web.AppKey[list[NavLink]] = web.AppKey("nav")
#: Paths whose POST needs no CSRF token (machine clients such as autodiscover).
CSRF_EXEMPT: web.AppKey[set[str]] = web.AppKey("csrf_exempt")
#: Name of the listener serving this app (``http`` or ``https``).
LISTENER = web.AppKey("listener", str)

#: Request key of the visitor's :class:`WebSession` (None before the first form).
SESSION_KEY: web.RequestKey[WebSession | None] = web.RequestKey("session")
#: Request key of a session created during this request (its cookie goes out with the reply).
NEW_SESSION_KEY: web.RequestKey[WebSession] = web.RequestKey("new_session")


def request_session(request: web.Request) -> WebSession | None:
    """The session the middleware found for this request, if any."""
    return request.get(SESSION_KEY)
