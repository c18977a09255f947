"""The console's actions: POST forms (the CSRF middleware has checked the token)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging

from aiohttp import web

from mailserver.auth import UserDatabase, UserError
from mailserver.events import Topic
from mailserver.web.keys import SERVICES
from mailserver.web.security import require_admin
from mailserver.web.templates import flash

log = logging.getLogger("mailserver.web.console")


async def reset_password(request: web.Request) -> web.StreamResponse:
    """Set a student's password back to the lab default: the account's own name."""
    admin = require_admin(request)
    name = request.match_info["name"]
    config = request.app[SERVICES].config
    if config.web.is_admin(name):
        flash(request, f"{name} is an instructor account; its password is not reset here.")
        raise web.HTTPSeeOther(location="/console/class")

    def reset() -> None:
        users = UserDatabase(config.user_db_path, scheme=config.auth.password_scheme)
        users.set_password(name, name, plain_secret=True)

    try:
        await asyncio.to_thread(reset)
    except UserError as exc:
        flash(request, f"Cannot reset {name}: {exc}")
    else:
        log.info("%s reset the password of %s to the lab default", admin.name, name)
        flash(request, f"The password of {name} is now {name} again.")
    raise web.HTTPSeeOther(location="/console/class")


async def unblock(request: web.Request) -> web.StreamResponse:
    """Lift the login block (and forget the failures) of one client address."""
    admin = require_admin(request)
    form = await request.post()
    address = str(form.get("address", "")).strip()
    try:
        ipaddress.ip_address(address)
    except ValueError:
        flash(request, f"Not an IP address: {address[:60]!r}")
        raise web.HTTPSeeOther(location="/console/") from None
    services = request.app[SERVICES]
    was_blocked = services.auth.throttle.unblock(address)
    services.events.emit(Topic.AUTH, ip=address, user=None, action="unblock")
    log.info("%s lifted the login block on %s", admin.name, address)
    flash(
        request,
        f"{address} is unblocked." if was_blocked else f"{address} was not blocked.",
    )
    raise web.HTTPSeeOther(location="/console/")
