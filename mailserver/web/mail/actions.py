"""Changing messages: read/unread, flag, move, delete to Trash, empty Trash.

Each is one POST (with the CSRF token) that calls the store and goes back
to the page it came from; IMAP sessions on the same folder hear of it
through the store's change listeners.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web

from mailserver.storage import DELETED, FLAGGED, INBOX, SEEN, FlagMode, Folder, Mailbox
from mailserver.web.mail.folders import mailbox_of, open_folder, special_folder, special_name
from mailserver.web.security import require_user, safe_next
from mailserver.web.templates import flash

#: Messages one action may name.
MAX_UIDS = 1000


@dataclass(frozen=True)
class Selection:
    """What one action works on: messages of one folder, and the folder to move to."""

    request: web.Request
    mailbox: Mailbox
    folder: Folder
    uids: list[int]
    #: Name of the target folder (``move``); empty otherwise.
    target: str = ""


Action = Callable[[Selection], Awaitable[str]]


def _flag_action(flag: str, mode: FlagMode, done: str) -> Action:
    async def action(selection: Selection) -> str:
        await selection.folder.store_flags(selection.uids, [flag], mode)
        return f"{len(selection.uids)} {done}."

    return action


async def move(selection: Selection) -> str:
    if not selection.target:
        return "Choose the folder to move to."
    target = await open_folder(selection.mailbox, selection.target)
    if target is selection.folder:
        return "Already there."
    moved = await selection.folder.move_to(selection.uids, target)
    return f"{len(moved)} moved to {selection.target}."


async def delete(selection: Selection) -> str:
    """To Trash; in Trash itself, for good."""
    folder = selection.folder
    trash = await special_folder(selection.request, selection.mailbox, "\\Trash")
    if folder is trash or folder.name == trash.name:
        await folder.store_flags(selection.uids, [DELETED], FlagMode.ADD)
        gone = await folder.expunge(selection.uids)
        return f"{len(gone)} deleted for good."
    moved = await folder.move_to(selection.uids, trash)
    return f"{len(moved)} moved to {trash.name}."


ACTIONS: dict[str, Action] = {
    "read": _flag_action(SEEN, FlagMode.ADD, "marked as read"),
    "unread": _flag_action(SEEN, FlagMode.REMOVE, "marked as unread"),
    "flag": _flag_action(FLAGGED, FlagMode.ADD, "flagged"),
    "unflag": _flag_action(FLAGGED, FlagMode.REMOVE, "unflagged"),
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
    selection = Selection(request, mailbox, folder, uids, str(form.get("target", "")))
    flash(request, await action(selection))
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
