"""Reading one message: the page, its HTML body in a sandbox, attachments, raw source.

Opening a message sets ``\\Seen`` through the store, exactly as an IMAP
FETCH of the body does, so Thunderbird sees it read at once and IDLE
clients are told (the store's change listeners).
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from mailserver.storage import INBOX, SEEN, FlagMode
from mailserver.web.mail import render as mime
from mailserver.web.mail.folders import folder_entries, mailbox_of, open_folder, read_message
from mailserver.web.security import require_user
from mailserver.web.templates import render

#: The sanitised body's own policy: no script, no network, no plugins, no
#: same-origin access; links may only open a new, separate tab.
BODY_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'self'; form-action 'none'; base-uri 'none'; "
    "sandbox allow-popups allow-popups-to-escape-sandbox"
)
#: Octets of raw source shown in the page (the download has all of it).
MAX_RAW_SHOWN = 1024 * 1024


def _uid(request: web.Request) -> int:
    try:
        uid = int(request.query.get("uid", ""))
    except ValueError:
        raise web.HTTPBadRequest(text="Which message? (uid)\n") from None
    if uid <= 0:
        raise web.HTTPBadRequest(text="Which message? (uid)\n")
    return uid


async def message_page(request: web.Request) -> web.StreamResponse:
    user = require_user(request)
    mailbox = await mailbox_of(request, user.name)
    name = request.query.get("f", INBOX)
    folder = await open_folder(mailbox, name)
    uid = _uid(request)
    data = await read_message(folder, uid)
    shown = mime.render(data)
    info = (await folder.snapshot()).find(uid)
    if info is not None and SEEN not in info.flags:
        await folder.store_flags([uid], [SEEN], FlagMode.ADD)
        flags = info.flags | {SEEN}
    else:
        flags = info.flags if info is not None else frozenset()
    link = f"f={quote(name, safe='')}&uid={uid}"
    entries = await folder_entries(mailbox)
    return render(
        request,
        "mail_message.html",
        folders=entries,
        folder=name,
        uid=uid,
        link=link,
        message=shown,
        flags=flags,
        size=len(data),
        move_targets=[e.name for e in entries if e.name != name],
    )


async def message_body(request: web.Request) -> web.StreamResponse:
    """The sanitised HTML body, for the sandboxed iframe of the message page."""
    user = require_user(request)
    folder = await open_folder(await mailbox_of(request, user.name), request.query.get("f", INBOX))
    shown = mime.render(await read_message(folder, _uid(request)))
    html = shown.html if shown.html is not None else ""
    document = (
        '<!doctype html><html><head><meta charset="utf-8">'
        '<meta name="referrer" content="no-referrer">'
        "<style>body{font:15px/1.4 system-ui,sans-serif;margin:.5rem;overflow-wrap:anywhere}"
        "img{max-width:100%}</style></head><body>" + html + "</body></html>"
    )
    response = web.Response(text=document, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = BODY_CSP
    response.headers["Cache-Control"] = "no-store"
    return response


async def attachment(request: web.Request) -> web.StreamResponse:
    """One part as a download, never rendered by the browser on our origin."""
    user = require_user(request)
    folder = await open_folder(await mailbox_of(request, user.name), request.query.get("f", INBOX))
    data = await read_message(folder, _uid(request))
    try:
        index = int(request.query.get("part", ""))
    except ValueError:
        raise web.HTTPBadRequest(text="Which part?\n") from None
    found = mime.part_bytes(data, index)
    if found is None:
        raise web.HTTPNotFound(text="No such part.\n")
    part, content = found
    filename = mime.safe_filename(part, index)
    return download(content, filename)


async def raw_source(request: web.Request) -> web.StreamResponse:
    """The message as stored, headers and MIME parts as they came over the wire."""
    user = require_user(request)
    mailbox = await mailbox_of(request, user.name)
    name = request.query.get("f", INBOX)
    folder = await open_folder(mailbox, name)
    uid = _uid(request)
    data = await read_message(folder, uid)
    if request.query.get("download"):
        return download(data, f"message-{uid}.eml")
    text = data[:MAX_RAW_SHOWN].decode("utf-8", errors="replace")
    return render(
        request,
        "mail_raw.html",
        folder=name,
        uid=uid,
        link=f"f={quote(name, safe='')}&uid={uid}",
        source=text,
        truncated=len(data) > MAX_RAW_SHOWN,
        size=len(data),
    )


def download(content: bytes, filename: str) -> web.Response:
    """``Content-Disposition: attachment`` with an ASCII name and the RFC 6266 UTF-8 one."""
    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else "_" for c in filename)
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    response = web.Response(body=content, content_type="application/octet-stream")
    response.headers["Content-Disposition"] = disposition
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
