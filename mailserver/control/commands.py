"""The table of control commands: name -> ``async def (context, args) -> result``.

Results are JSON-friendly dicts. A command raises :class:`CommandError` with
a message for the operator when its arguments are wrong.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from mailserver.events import Topic
from mailserver.services import Services
from mailserver.transcripts.archive import TranscriptArchive


class CommandError(Exception):
    """Bad arguments or an impossible request; the message goes back to the caller."""


@dataclass(frozen=True)
class ControlContext:
    """What control commands may use."""

    services: Services
    #: Recent sessions; None when transcripts are kept nowhere.
    archive: TranscriptArchive | None = None


ControlCommand = Callable[[ControlContext, dict[str, Any]], Awaitable[dict[str, Any]]]

COMMANDS: dict[str, ControlCommand] = {}


def command(name: str) -> Callable[[ControlCommand], ControlCommand]:
    """Register a control command under ``name`` (``area.verb``)."""

    def register(function: ControlCommand) -> ControlCommand:
        COMMANDS[name] = function
        return function

    return register


@command("ping")
async def ping(context: ControlContext, args: dict[str, Any]) -> dict[str, Any]:
    import os

    return {"pid": os.getpid()}


@command("throttle.list")
async def throttle_list(context: ControlContext, args: dict[str, Any]) -> dict[str, Any]:
    throttle = context.services.auth.throttle
    return {
        "blocked": [
            {"address": address, "seconds_left": round(left)}
            for address, left in throttle.blocked()
        ],
        "failing": [{"key": key, "failures": count} for key, count in throttle.failing()],
    }


@command("throttle.unblock")
async def throttle_unblock(context: ControlContext, args: dict[str, Any]) -> dict[str, Any]:
    address = str(args.get("address") or "").strip()
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise CommandError(f"not an IP address: {address!r}") from None
    was_blocked = context.services.auth.throttle.unblock(address)
    context.services.events.emit(Topic.AUTH, ip=address, user=None, action="unblock")
    return {"address": address, "was_blocked": was_blocked}


@command("sessions.list")
async def sessions_list(context: ControlContext, args: dict[str, Any]) -> dict[str, Any]:
    """Who is connected now (from the transcript archive)."""
    if context.archive is None:
        raise CommandError("sessions are not recorded (transcripts.keep_sessions is 0)")
    await context.archive.gather()  # the other workers' sessions too
    return {"sessions": context.archive.connected()}
