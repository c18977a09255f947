"""Build the aiohttp application of one web listener from the module list."""

from __future__ import annotations

import importlib
from pathlib import Path

from aiohttp import web

from mailserver.services import Services
from mailserver.web.errors import error_middleware
from mailserver.web.keys import CSRF_EXEMPT, LISTENER, NAV, SERVICES, SESSIONS
from mailserver.web.nav import NavLink
from mailserver.web.security import csrf_middleware, headers_middleware, session_middleware
from mailserver.web.sessions import SessionStore
from mailserver.web.templates import TEMPLATES, make_environment

#: Modules whose ``setup(app)`` adds routes, in this order. Add yours here.
MODULES: list[str] = [
    "mailserver.web.presence",
    "mailserver.web.login",
    "mailserver.web.mail",
    "mailserver.web.autoconfig",
    "mailserver.web.console",
]

STATIC_DIR = Path(__file__).parent / "static"

#: Largest request body: a composed message with attachments, plus form overhead.
FORM_OVERHEAD = 1024 * 1024


def build_app(services: Services, listener: str = "http") -> web.Application:
    """The web application for one listener; each module in :data:`MODULES` adds its routes."""
    settings = services.config.web
    app = web.Application(
        middlewares=[headers_middleware, error_middleware, session_middleware, csrf_middleware],
        client_max_size=services.config.limits.max_message_size + FORM_OVERHEAD,
    )
    app[SERVICES] = services
    app[LISTENER] = listener
    app[SESSIONS] = SessionStore(
        sessions_path(services.config.data_dir),
        settings.session_lifetime,
        settings.idle_timeout,
        settings.max_sessions,
        listener,
    )
    app[NAV] = []
    app[CSRF_EXEMPT] = set()
    app[TEMPLATES] = make_environment()
    app.router.add_static("/static/", STATIC_DIR, append_version=False)
    # Browsers ask for /favicon.ico whatever the page says; answer with the icon
    # rather than a 404 in every log and console.
    app.router.add_get("/favicon.ico", _favicon)
    for name in MODULES:
        importlib.import_module(name).setup(app)
    app.on_cleanup.append(_close_sessions)  # last: the modules' cleanups may still use it
    return app


async def _favicon(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "favicon.svg", headers={"Content-Type": "image/svg+xml"})


def sessions_path(data_dir: Path) -> Path:
    """The session table every worker (and the next start) shares."""
    return data_dir / "run" / "web-sessions.sqlite3"


async def _close_sessions(app: web.Application) -> None:
    app[SESSIONS].close()


def add_nav(app: web.Application, label: str, path: str, admin_only: bool = False) -> None:
    """A link in the top bar; ``admin_only`` hides it from students (the route still checks)."""
    app[NAV].append(NavLink(label, path, admin_only))
