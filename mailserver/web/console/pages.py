"""The console's pages: overview, one session, its download, the class."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from mailserver.activity import EXERCISES, load_activity
from mailserver.activity.overview import class_overview
from mailserver.auth import UserDatabase
from mailserver.transcripts.archive import SessionRecord
from mailserver.web.console.archive import archive_of
from mailserver.web.keys import SERVICES
from mailserver.web.security import require_admin
from mailserver.web.templates import render

#: Finished sessions listed on the overview page.
LIST_LIMIT = 200
PROTOCOLS = ("smtp", "pop3", "imap")


def filters_of(request: web.Request) -> dict[str, str]:
    """The overview's filters from the query string, trimmed and bounded."""
    protocol = request.query.get("protocol", "").strip().lower()
    return {
        "user": request.query.get("user", "").strip()[:100],
        "address": request.query.get("address", "").strip()[:100],
        "protocol": protocol if protocol in PROTOCOLS else "",
    }


def clock(when: float | None) -> str:
    if not when:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))


async def index(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    services = request.app[SERVICES]
    archive = await archive_of(request)
    filters = filters_of(request)
    finished: list[SessionRecord] = []
    connected: list[SessionRecord] = []
    if archive is not None:
        connected = sorted(archive.live.values(), key=lambda r: r.started)
        finished = [r for r in reversed(archive.finished.values()) if r.matches(**filters)][
            :LIST_LIMIT
        ]
    throttle = services.auth.throttle
    return render(
        request,
        "console/index.html",
        title="Console",
        filters=filters,
        protocols=PROTOCOLS,
        connected=connected,
        finished=finished,
        blocked=[(address, round(left)) for address, left in throttle.blocked()],
        clock=clock,
        recording=archive is not None,
    )


async def _record(request: web.Request) -> SessionRecord:
    archive = await archive_of(request)
    record = archive.get(request.match_info["id"]) if archive is not None else None
    if record is None:
        raise web.HTTPNotFound(text="No such session (it may be too old to be kept).\n")
    return record


async def session(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    record = await _record(request)
    lines = record.formatted()
    return render(
        request,
        "console/session.html",
        title=f"Session {record.id}",
        record=record,
        lines=lines,
        clock=clock,
    )


async def download(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    record = await _record(request)
    name = f"{record.protocol}-{record.peer.replace(':', '_')}-{record.id}.txt"
    return web.Response(
        text=record.text(),
        content_type="text/plain",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def class_page(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    config = request.app[SERVICES].config

    def read() -> tuple[list[str], dict[str, dict[str, object]]]:
        users = UserDatabase(config.user_db_path, scheme=config.auth.password_scheme)
        return users.names(), load_activity(config.activity_path)

    names, activity = await asyncio.to_thread(read)
    rows = await class_overview(names, request.app[SERVICES].store, activity)
    return render(
        request,
        "console/class.html",
        title="Class",
        rows=rows,
        exercises=EXERCISES,
        clock=clock,
        admins=config.web.admins,
    )
