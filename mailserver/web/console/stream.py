"""The live view: ``session.*`` events as Server-Sent Events.

Each open console page is one subscription to the event channel feeding a
bounded queue; a page that cannot keep up loses lines (and is told how
many) rather than making the server hold them. On connect the page first
gets the sessions already running, from the archive, so a session that
started before the page was opened shows whole. The page filters by
account, address and protocol itself (``console.js``): a session's first
lines come before its login, and must still show once the login matches.
A ``session.lines`` event (the lines of one loop turn) is one queue item and
goes to the page as one ``line`` event per line, written at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

from mailserver.events import Event, Topic
from mailserver.transcripts.archive import TranscriptArchive, split_lines
from mailserver.web.console.archive import archive_of
from mailserver.web.keys import SERVICES
from mailserver.web.security import require_admin

#: Events waiting for one slow page before it starts losing them.
QUEUE_LIMIT = 5000
#: Seconds between comments that keep proxies and the browser from giving up.
KEEPALIVE = 15.0
#: Open live views at once (each holds a subscription and a queue).
MAX_STREAMS = 32

_TOPICS = {
    Topic.SESSION_OPENED: "opened",
    Topic.SESSION_LOGIN: "login",
    Topic.SESSION_LINES: "lines",
    Topic.SESSION_CLOSED: "closed",
}

STREAMS: web.AppKey[set[asyncio.Queue[tuple[str, dict[str, Any]] | None]]] = web.AppKey(
    "console_streams"
)


def setup(app: web.Application) -> None:
    app[STREAMS] = set()
    app.on_shutdown.append(_stop_all)


async def _stop_all(app: web.Application) -> None:
    for queue in app[STREAMS]:
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)


def _payload(event: Event) -> dict[str, Any]:
    data = dict(event.data)
    data["time"] = event.time
    return data


async def events(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    streams = request.app[STREAMS]
    if len(streams) >= MAX_STREAMS:
        raise web.HTTPServiceUnavailable(text="Too many console pages are open.\n")
    bus = request.app[SERVICES].events
    queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue(QUEUE_LIMIT)
    dropped = 0

    def on_event(event: Event) -> None:
        nonlocal dropped
        try:
            queue.put_nowait((_TOPICS[event.topic], _payload(event)))
        except asyncio.QueueFull:
            packed = event.data.get("lines")
            dropped += packed.count("\n") + 1 if isinstance(packed, str) else 1

    archive = await archive_of(request)  # every worker's sessions, before the snapshot
    subscriptions = [bus.subscribe(topic, on_event) for topic in _TOPICS]
    # Taken right after subscribing, with no await between: nothing is missed or doubled.
    catch_up = _running_sessions(archive)
    streams.add(queue)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    try:
        await response.prepare(request)
        for kind, data in catch_up:
            await _send(response, kind, data)
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), KEEPALIVE)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            if item is None:
                break
            if dropped:
                await _send(response, "dropped", {"count": dropped})
                dropped = 0
            await _send(response, *item)
    except (ConnectionResetError, ConnectionError):
        pass
    finally:
        for subscription in subscriptions:
            subscription.close()
        streams.discard(queue)
    with contextlib.suppress(Exception):
        await response.write_eof()
    return response


def _running_sessions(archive: TranscriptArchive | None) -> list[tuple[str, dict[str, Any]]]:
    if archive is None:
        return []
    items: list[tuple[str, dict[str, Any]]] = []
    for record in sorted(archive.live.values(), key=lambda r: r.started):
        summary = record.summary()
        summary["time"] = record.started
        items.append(("opened", summary))
        if record.user:
            items.append(("login", {"session": record.id, "user": record.user}))
        for when, packed in record.batches:
            items.append(("lines", {"session": record.id, "lines": packed, "time": when}))
    return items


async def _send(response: web.StreamResponse, kind: str, data: dict[str, Any]) -> None:
    # json.dumps escapes line breaks, so one event is one "data:" line.
    if kind == "lines":
        await response.write(_line_events(data).encode())
        return
    await response.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())


def _line_events(data: dict[str, Any]) -> str:
    """One ``line`` event per line of a batch, as the page's script takes them."""
    packed = data.get("lines")
    if not isinstance(packed, str) or not packed:
        return ""
    session, when = data.get("session"), data.get("time")
    return "".join(
        "event: line\ndata: "
        + json.dumps({"session": session, "direction": direction, "text": text, "time": when})
        + "\n\n"
        for direction, text in split_lines(packed)
    )
