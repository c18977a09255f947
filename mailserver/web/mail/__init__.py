"""Webmail: folders, message list, reading, composing; everything through the shared store."""

from __future__ import annotations

from aiohttp import web

from mailserver.web.app import add_nav
from mailserver.web.security import require_user
from mailserver.web.templates import render


def setup(app: web.Application) -> None:
    add_nav(app, "Mail", "/mail/")
    app.router.add_get("/mail/", inbox)


async def inbox(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    return render(request, "placeholder.html", title="Mail", text=f"Logged in as {user.name}.")
