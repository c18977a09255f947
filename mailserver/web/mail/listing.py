"""The message list of one folder: newest first, a page at a time, with search.

Search runs the IMAP server's own SEARCH evaluator (``mailserver.imap.search``)
over the folder, with ``SUBJECT x OR FROM x OR BODY x``: the same decoding,
the same case-insensitive matching and the same parse cache as a mail
client's search, not a second implementation.
"""

from __future__ import annotations

import datetime
import email.utils
from dataclasses import dataclass

from aiohttp import web

from mailserver.imap.mime import MessageCache
from mailserver.imap.parser.search_keys import BodyKey, HeaderKey, Or
from mailserver.imap.search import SearchEvaluator
from mailserver.imap.view import SelectedView
from mailserver.storage import DRAFT, FLAGGED, INBOX, SEEN, Folder, MessageInfo
from mailserver.web.keys import SERVICES
from mailserver.web.mail.folders import folder_entries, mailbox_of, open_folder
from mailserver.web.security import require_user
from mailserver.web.templates import render

#: Longest search text accepted.
MAX_QUERY = 200


@dataclass(frozen=True)
class Row:
    uid: int
    subject: str
    sender: str
    date: str
    size: int
    seen: bool
    flagged: bool
    draft: bool


async def message_list(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    mailbox = await mailbox_of(request, user.name)
    name = request.query.get("f", INBOX)
    folder = await open_folder(mailbox, name)
    query = request.query.get("q", "").strip()[:MAX_QUERY]
    page_size = request.app[SERVICES].config.web.page_size
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    snapshot = await folder.snapshot()
    if query:
        uids = await search(folder, query)
    else:
        uids = [info.uid for info in snapshot.messages]
    uids.sort(reverse=True)  # newest (highest UID: latest arrival) first
    pages = max(1, (len(uids) + page_size - 1) // page_size)
    page = min(page, pages)
    shown = uids[(page - 1) * page_size : page * page_size]
    rows = []
    cache = MessageCache.for_folder(folder)
    for uid in shown:
        info = snapshot.find(uid)
        if info is not None:
            rows.append(await _row(cache, folder, info))
    entries = await folder_entries(mailbox)
    return render(
        request,
        "mail_list.html",
        folders=entries,
        folder=name,
        folder_label="Inbox" if name == INBOX else name,
        rows=rows,
        page=page,
        pages=pages,
        total=len(uids),
        query=query,
        move_targets=[e.name for e in entries if e.name != name],
    )


async def search(folder: Folder, text: str) -> list[int]:
    """UIDs whose Subject or From header or body text contains ``text``."""
    key = Or(HeaderKey("Subject", text), Or(HeaderKey("From", text), BodyKey(text)))
    view = SelectedView(folder, readonly=True, snapshot=await folder.snapshot())
    try:
        return await SearchEvaluator(view).run(key)
    finally:
        view.close()


async def _row(cache: MessageCache, folder: Folder, info: MessageInfo) -> Row:
    parsed = await cache.structure(folder, info)
    sent = parsed.date()
    moment = sent if sent is not None else datetime.datetime.fromtimestamp(info.internal_date)
    return Row(
        uid=info.uid,
        subject=_short(parsed.header_value("Subject") or "(no subject)"),
        sender=_short(_display_name(parsed.header_value("From") or ""), 80),
        date=moment.strftime("%Y-%m-%d %H:%M"),
        size=info.size,
        seen=SEEN in info.flags,
        flagged=FLAGGED in info.flags,
        draft=DRAFT in info.flags,
    )


def _display_name(value: str) -> str:
    """``Alice <a@b>`` -> ``Alice``; a bare address stays as it is (as mail clients list it)."""
    name, address = email.utils.parseaddr(value)
    return name or address or value


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
