"""Changing messages: read/unread, flag, move, delete to Trash, empty Trash.

Each is one POST (with the CSRF token) that calls the store and goes back
to the page it came from; IMAP sessions on the same folder hear of it
through the store's change listeners.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from mailserver.storage import DELETED, FLAGGED, INBOX, SEEN, FlagMode, Folder, Mailbox
from mailserver.web.mail.folders import mailbox_of, open_folder, special_folder, special_name
from mailserver.web.security import require_user, safe_next
from mailserver.web.templates import flash

#: Messages one action may name.
MAX_UIDS = 1000

Action = Callable[[web.Request, Mailbox, Folder, list[int], str], Awaitable[str]]


async def _flags(folder: Folder, uids: list[int], flag: str, mode: FlagMode) -> None:
    await folder.store_flags(uids, [flag], mode)


async def mark_read(request: web.Request, mb: Mailbox, f: Folder, uids: list[int], t: str) -> str:
    await _flags(f, uids, SEEN, FlagMode.ADD)
    return f"{len(uids)} marked as read."


async def mark_unread(request: web.Request, mb: Mailbox, f: Folder, uids: list[int], t: str) -> str:
    await _flags(f, uids, SEEN, FlagMode.REMOVE)
    return f"{len(uids)} marked as unread."


async def flag(request: web.Request, mb: Mailbox, f: Folder, uids: list[int], t: str) -> str:
    await _flags(f, uids, FLAGGED, FlagMode.ADD)
    return f"{len(uids)} flagged."


async def unflag(request: web.Request, mb: Mailbox, f: Folder, uids: list[int], t: str) -> str:
    await _flags(f, uids, FLAGGED, FlagMode.REMOVE)
    return f"{len(uids)} unflagged."


async def move(request: web.Request, mb: Mailbox, f: Folder, uids: list[int], t: str) -> str:
    if not t:
        return "Choose the folder to move to."
    target = await open_folder(mb, t)
    if target is f:
        return "Already there."
    moved = await f.move_to(uids, target)
    return f"{len(moved)} moved to {t}."


async def delete(request: web.Request, mb: Mailbox, f: Folder, uids: list[int], t: str) -> str:
    """To Trash; in Trash itself, for good."""
    trash = await special_folder(request, mb, "\\Trash")
    if f is trash or f.name == trash.name:
        await _flags(f, uids, DELETED, FlagMode.ADD)
        gone = await f.expunge(uids)
        return f"{len(gone)} deleted for good."
    moved = await f.move_to(uids, trash)
    return f"{len(moved)} moved to {trash.name}."


ACTIONS: dict[str, Action] = {
    "read": mark_read,
    "unread": mark_unread,
    "flag": flag,
    "unflag": unflag,
    "move": move,
    "delete": delete,
}


async def message_action(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    form = await request.post()
    name = str(form.get("f", INBOX))
    back = safe_next(str(form.get("back", "")), f"/mail/?f={quote(name, safe='')}")
    action = ACTIONS.get(str(form.get("op", "")))
    if action is None:
        raise web.HTTPBadRequest(text="Unknown action.\n")
    uids = []
    for value in form.getall("uid", [])[:MAX_UIDS]:
        if isinstance(value, str) and value.isdigit():
            uids.append(int(value))
    if not uids:
        flash(request, "Select one or more messages first.")
        raise web.HTTPSeeOther(location=back)
    mailbox = await mailbox_of(request, user.name)
    folder = await open_folder(mailbox, name)
    flash(request, await action(request, mailbox, folder, uids, str(form.get("target", ""))))
    if str(form.get("op")) in ("move", "delete") and back.startswith("/mail/message"):
        back = f"/mail/?f={quote(name, safe='')}"  # the message is no longer there
    raise web.HTTPSeeOther(location=back)


async def empty_trash(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    mailbox = await mailbox_of(request, user.name)
    name = await special_name(request, mailbox, "\\Trash")
    trash = await special_folder(request, mailbox, "\\Trash")
    uids = [info.uid for info in (await trash.snapshot()).messages]
    if uids:
        await trash.store_flags(uids, [DELETED], FlagMode.ADD)
        await trash.expunge(uids)
    flash(request, f"{name} emptied ({len(uids)} deleted).")
    raise web.HTTPSeeOther(location=f"/mail/?f={quote(name, safe='')}")
