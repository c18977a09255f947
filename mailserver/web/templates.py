"""Jinja2 templates with autoescape, shared by every web module.

Each module adds its own template folder (:func:`add_template_dir`); names
are looked up in the order the folders were added, the core folder (with
``base.html``) first. :func:`render` passes what every page needs: the
user, the CSRF field, the top-bar links and one-shot flash messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from mailserver.web.keys import NAV, request_session
from mailserver.web.security import CSRF_FIELD, current_user

CORE_TEMPLATES = Path(__file__).parent / "templates"

TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("templates", jinja2.Environment)


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(CORE_TEMPLATES)]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["filesize"] = filesize
    return env


def add_template_dir(app: web.Application, directory: Path) -> None:
    """Make the ``.html`` files in ``directory`` available to :func:`render`."""
    loader = app[TEMPLATES].loader
    assert isinstance(loader, jinja2.ChoiceLoader)
    loader.loaders = [*loader.loaders, jinja2.FileSystemLoader(directory)]


def render(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    """An HTML response from template ``name`` with the page context filled in."""
    user = current_user(request)
    session = request_session(request)
    csrf = session.csrf if session is not None else ""
    flashes: list[str] = []
    if session is not None and session.flashes:
        flashes, session.flashes = session.flashes, []
    links = [
        link
        for link in request.app[NAV]
        if user is not None and (user.admin or not link.admin_only)
    ]

    active = max((x.path for x in links if request.path.startswith(x.path)), key=len, default="")

    def csrf_field() -> Markup:
        return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, escape(csrf))

    template = request.app[TEMPLATES].get_template(name)
    html = template.render(
        user=user,
        csrf_token=csrf,
        csrf_field=csrf_field,
        nav=links,
        active_path=active,
        flashes=flashes,
        request_path=request.path,
        **context,
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def flash(request: web.Request, message: str) -> None:
    """Show ``message`` once, on the next page this browser renders."""
    session = request_session(request)
    if session is not None:
        session.flashes = [*session.flashes[-4:], message]


def filesize(octets: int) -> str:
    """1234567 -> '1.2 MB', the way mail clients show sizes."""
    size = float(octets)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"
