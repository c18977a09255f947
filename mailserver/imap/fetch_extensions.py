"""FETCH items of extensions, each a small renderer in one table: PREVIEW (RFC 8970),
SAVEDATE (RFC 8514), EMAILID and THREADID (RFC 8474). ``fetch.py`` looks names
up here before its own items."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mailserver.imap import wire
from mailserver.imap.mime import MessageCache, Section
from mailserver.imap.mime.preview import preview
from mailserver.imap.objectid import email_id
from mailserver.imap.view import SelectedView
from mailserver.storage import MessageInfo

Renderer = Callable[[SelectedView, MessageCache, MessageInfo], Awaitable[bytes]]


async def _preview_text(view: SelectedView, cache: MessageCache, info: MessageInfo) -> bytes:
    data = await cache.section(view.folder, info, Section())
    parsed = await cache.structure(view.folder, info)
    return wire.string(preview(data, parsed.tree).replace("\x00", ""))


async def _preview(view: SelectedView, cache: MessageCache, info: MessageInfo) -> bytes:
    # LAZY (RFC 8970 3.1) may answer NIL; computing it now is allowed and always done.
    return b"PREVIEW " + await _preview_text(view, cache, info)


async def _fuzzy_preview(view: SelectedView, cache: MessageCache, info: MessageInfo) -> bytes:
    return b"PREVIEW (FUZZY " + await _preview_text(view, cache, info) + b")"


async def _fuzzy_snippet(view: SelectedView, cache: MessageCache, info: MessageInfo) -> bytes:
    return b"SNIPPET (FUZZY " + await _preview_text(view, cache, info) + b")"


async def _savedate(view: SelectedView, cache: MessageCache, info: MessageInfo) -> bytes:
    saved = info.save_date
    return b"SAVEDATE " + (b"NIL" if saved is None else wire.imap_date(saved))


async def _emailid(view: SelectedView, cache: MessageCache, info: MessageInfo) -> bytes:
    parsed = await cache.structure(view.folder, info)
    return b"EMAILID (" + email_id(parsed).encode() + b")"


async def _threadid(view: SelectedView, cache: MessageCache, info: MessageInfo) -> bytes:
    return b"THREADID NIL"  # RFC 8474 5.2: a server that does not keep threads


EXTENSION_ITEMS: dict[str, Renderer] = {
    "PREVIEW": _preview,
    # The drafts before RFC 8970, as Dovecot still offers them (PREVIEW=FUZZY, SNIPPET=FUZZY).
    "PREVIEW (FUZZY)": _fuzzy_preview,
    "SNIPPET (FUZZY)": _fuzzy_snippet,
    "SAVEDATE": _savedate,
    "EMAILID": _emailid,
    "THREADID": _threadid,
}
