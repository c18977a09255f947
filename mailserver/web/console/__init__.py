"""The instructor console: live transcripts, finished sessions, the class, and actions.

Only accounts in ``web.admins`` may use any of it; every handler starts
with :func:`~mailserver.web.security.require_admin`. What it shows comes
from the event channel (through the shared transcript archive and a live
subscription per open page) and from the files the server keeps (users,
mail, the activity record); it has no state of its own.

Routes (all instructor-only):

=================================  ====  =========================================
``/console/``                      GET   connected now, blocks, live view, finished
``/console/stream``                GET   the live view's Server-Sent Events
``/console/sessions/{id}``         GET   one session's transcript
``/console/sessions/{id}.txt``     GET   the same as a text file download
``/console/class``                 GET   class overview (= ``mailserver lab status``)
``/console/accounts/{name}/reset`` POST  password back to the lab default (= name)
``/console/unblock``               POST  lift the login block on an address
=================================  ====  =========================================
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from mailserver.web.app import add_nav
from mailserver.web.console import actions, pages, stream
from mailserver.web.templates import add_template_dir

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Every console route: method, path, handler (each starts with ``require_admin``).
#: The tests try each of them as a stranger and as a student.
ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/console/", pages.index),
    ("GET", "/console/stream", stream.events),
    ("GET", "/console/sessions/{id}.txt", pages.download),
    ("GET", "/console/sessions/{id}", pages.session),
    ("GET", "/console/class", pages.class_page),
    ("POST", "/console/accounts/{name}/reset", actions.reset_password),
    ("POST", "/console/unblock", actions.unblock),
)


def setup(app: web.Application) -> None:
    add_template_dir(app, Path(__file__).parent / "templates")
    add_nav(app, "Console", "/console/", admin_only=True)
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    stream.setup(app)
