"""FETCH (RFC 3501 6.4.5): one untagged response per message, written as it is built.

Only the data the client asked for is computed: flags, dates and sizes come
from the store snapshot; ENVELOPE, BODYSTRUCTURE and sections come from the
MIME cache, which parses each message once, lazily. Responses are written
and drained in batches of about 64 KiB (a big one on its own), so a FETCH of
a whole large mailbox never sits in memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from mailserver.imap import binary, rev2, wire
from mailserver.imap.condstore import (
    enable_condstore,
    qresync_on,
    ranges_text,
    subtract,
    vanished_since,
)
from mailserver.imap.errors import Response
from mailserver.imap.fetch_extensions import EXTENSION_ITEMS
from mailserver.imap.mime import MessageCache
from mailserver.imap.mime.message import Structure
from mailserver.imap.mime.section import Section, section_label
from mailserver.imap.parser.binary import BinarySection
from mailserver.imap.parser.commands import Fetch
from mailserver.imap.parser.fetch_items import SETS_SEEN, BodySection, FetchAttribute, FetchItem
from mailserver.imap.sequences import resolve_uids, uid_ranges
from mailserver.imap.view import SelectedView
from mailserver.storage import SEEN, ErrorKind, FlagMode, MessageInfo, StorageError
from mailserver.storage.stream import MessageStream

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

#: COPY/MOVE of a message expunged elsewhere: refused whole (RFC 2180 4.4.1).
VANISHED = Response("NO", "Some of the requested messages no longer exist")
#: FETCH that skipped messages expunged elsewhere (RFC 2180 4.1). OK, not NO:
#: clients treat NO as failure; Dovecot answers the same.
SKIPPED_EXPUNGED = Response("OK", "Some messages were already expunged", "EXPUNGEISSUED")
#: Octets of small FETCH responses gathered before they are written and drained.
OUTPUT_BATCH = 64 * 1024
#: Items answered from the parsed structure rather than the store snapshot.
_STRUCTURE_ITEMS = frozenset({"ENVELOPE", "BODYSTRUCTURE", "BODY"})
MODSEQ = FetchAttribute("MODSEQ")
#: Messages at least this large go out of their file in chunks for ``BODY[]`` and
#: ``RFC822`` (smaller ones through the MIME cache, which may already hold them).
STREAM_FROM = 256 * 1024
WHOLE = Section()
_RFC822_SECTIONS = {
    "RFC822": Section(),
    "RFC822.HEADER": Section(text="HEADER"),
    "RFC822.TEXT": Section(text="TEXT"),
}


def no_nuls(data: bytes) -> bytes:
    """Message octets made fit for an IMAP response: each NUL becomes 0x80.

    A literal is ``*CHAR8`` and CHAR8 excludes NUL (RFC 3501 9), so a NUL in
    a stored message can be sent neither in a body section nor in an ENVELOPE
    or BODYSTRUCTURE string (which are literals when they hold one). Dovecot
    makes the same one-for-one substitution, so every size stays exact.
    """
    return data.replace(b"\x00", b"\x80") if b"\x00" in data else data


def sets_seen(item: FetchItem) -> bool:
    if isinstance(item, BodySection | BinarySection):
        return not item.peek and not (isinstance(item, BinarySection) and item.size)
    return item.name in SETS_SEEN


async def run_fetch(session: ImapSession, command: Fetch) -> Response:
    view = session.view
    assert view is not None
    uids = resolve_uids(view, command.sequence, command.uid)
    items = list(command.items)
    if command.changed_since is not None or MODSEQ in items:
        enable_condstore(session)  # RFC 7162 3.1: CONDSTORE enabling commands
    if command.vanished and not (command.uid and qresync_on(session)):
        # RFC 7162 3.2.6: UID FETCH only, and only after ENABLE QRESYNC.
        return Response("BAD", "VANISHED needs UID FETCH and ENABLE QRESYNC")
    if command.changed_since is not None:
        since = command.changed_since
        if command.vanished:
            await _send_vanished(session, view, command, since)
        # Messages expunged elsewhere stay in the list: they are skipped below.
        uids = [uid for uid in uids if (info := view.info(uid)) is None or info.modseq > since]
        if MODSEQ not in items:
            items.append(MODSEQ)
    if command.uid and FetchAttribute("UID") not in items:
        items.insert(0, FetchAttribute("UID"))
    changed_flags: dict[int, frozenset[str]] = {}
    new_modseqs: dict[int, int] = {}
    if not view.readonly and any(sets_seen(item) for item in items):
        changed_flags = await _mark_seen(view, uids)
        if changed_flags and FetchAttribute("FLAGS") not in items:
            items.append(FetchAttribute("FLAGS"))
        if changed_flags and view.condstore:
            # RFC 7162 3.1: a FETCH that set \Seen reports the new MODSEQ (and UID).
            if MODSEQ not in items:
                items.append(MODSEQ)
            if FetchAttribute("UID") not in items:
                items.insert(0, FetchAttribute("UID"))
            fresh = await view.folder.snapshot()
            new_modseqs = {
                uid: info.modseq for uid in changed_flags if (info := fresh.find(uid)) is not None
            }
    cache = MessageCache.for_folder(view.folder)
    structured = any(
        isinstance(item, FetchAttribute) and item.name in _STRUCTURE_ITEMS for item in items
    )
    vanished = False
    out = _Output(session)
    ahead = cache.prefetcher(view.folder, uids, view.info) if structured else None
    simple = _simple_renderers(items)
    # Batch boundaries of the prefetcher: its ``ready`` is awaited only there
    # (a coroutine per message cost the loop more than the rest of a line).
    step = ahead.size if ahead is not None else 0
    try:
        for index, uid in enumerate(uids):
            if step and not index % step:
                assert ahead is not None
                await ahead.ready(index)
            info = view.info(uid)
            seq = view.seq_of(uid)
            if info is None or seq is None:
                vanished = True
                continue
            flags = changed_flags.get(uid, info.flags)
            if uid in new_modseqs:
                info = dataclasses.replace(info, modseq=new_modseqs[uid])
            rendered = ahead.take(uid) if ahead is not None else None
            if simple is not None and (rendered is not None or not structured):
                line = _render_simple(simple, seq, view, info, flags, rendered)
                if line is not None:
                    if out.keep(line):
                        await out.flush()
                    continue
            parts: list[bytes | Streamed] = []
            try:
                for item in items:
                    parts.append(await _render(item, view, cache, info, flags, rendered))
            except StorageError as exc:
                _close_streams(parts)
                if exc.kind is not ErrorKind.EXPUNGED:
                    raise
                vanished = True  # its file went away under the snapshot
                continue
            except BaseException:
                _close_streams(parts)
                raise
            if any(isinstance(part, Streamed) for part in parts):
                await out.flush()
                await _send_streamed(session, seq, parts)
            else:
                await out.add(b"* %d FETCH (%s)\r\n" % (seq, b" ".join(cast(list[bytes], parts))))
        await out.flush()
    except Exception:
        out.write_pending()  # the complete responses built so far still go out
        raise
    finally:
        if ahead is not None:
            ahead.close()
    return SKIPPED_EXPUNGED if vanished else Response("OK", f"{command.name} completed")


class _Output:
    """Small FETCH responses gathered into writes of about :data:`OUTPUT_BATCH`
    octets: one write (a system call) per message made a FETCH of flags or
    envelopes of a big mailbox cost more in writes than in everything else."""

    def __init__(self, session: ImapSession) -> None:
        self.session = session
        self.pending: list[bytes] = []
        self.size = 0

    def keep(self, response: bytes) -> bool:
        """Gather a response without an await; True when :meth:`flush` is due
        (the caller awaits it). One call per message of a big FETCH."""
        self.pending.append(response)
        self.size += len(response)
        return self.size >= OUTPUT_BATCH

    async def add(self, response: bytes) -> None:
        if len(response) >= OUTPUT_BATCH:
            await self.flush()
            await self._send(response)
            return
        self.pending.append(response)
        self.size += len(response)
        if self.size >= OUTPUT_BATCH:
            await self.flush()

    async def flush(self) -> None:
        if self.pending:
            data = b"".join(self.pending)
            self.pending.clear()
            self.size = 0
            await self._send(data)

    async def _send(self, data: bytes) -> None:
        session = self.session
        session.begin_response()
        session.write(data)
        await session.drain()
        session.end_response()

    def write_pending(self) -> None:
        if self.pending:
            self.session.write(b"".join(self.pending))
            self.pending.clear()
            self.size = 0


async def _send_vanished(
    session: ImapSession, view: SelectedView, command: Fetch, since: int
) -> None:
    """``* VANISHED (EARLIER)`` for UIDs of the set expunged after ``since`` (RFC 7162 3.2.6)."""
    snapshot = view.snapshot
    ranges = uid_ranges(view, command.sequence, max(snapshot.uidnext - 1, 1))
    gone = await vanished_since(view.folder, since, ranges, snapshot.uids, snapshot.uidnext)
    # Messages this session still shows (expunged elsewhere, not yet announced)
    # are left to the VANISHED after the command, which also renumbers.
    ghosts = [uid for uid in view.uids if snapshot.find(uid) is None]
    gone = subtract(gone, ghosts)
    if gone:
        await session.send(b"* VANISHED (EARLIER) %s\r\n" % ranges_text(gone))


async def _mark_seen(view: SelectedView, uids: list[int]) -> dict[int, frozenset[str]]:
    """Set ``\\Seen`` where a non-PEEK body fetch reads an unseen message; new flags by UID.

    The view's snapshot is left alone: the refresh after the command compares
    against it to find what *others* changed meanwhile.
    """
    unseen = [uid for uid in uids if (info := view.info(uid)) and SEEN not in info.flags]
    if not unseen:
        return {}
    return await view.folder.store_flags(unseen, [SEEN], FlagMode.ADD)


@dataclasses.dataclass
class Streamed:
    """A whole-message literal (``BODY[]``, ``RFC822``, a partial of them) that goes
    from the message file to the socket in chunks instead of through memory."""

    label: bytes
    message: MessageStream
    start: int = 0
    count: int | None = None

    def length(self) -> int:
        end = self.message.size if self.count is None else self.start + self.count
        return max(0, min(end, self.message.size) - self.start)


def _close_streams(parts: list[bytes | Streamed]) -> None:
    """Close the files of streamed parts already opened for a response that is not sent."""
    for part in parts:
        if isinstance(part, Streamed):
            part.message.close()


async def _send_streamed(session: ImapSession, seq: int, parts: list[bytes | Streamed]) -> None:
    """One FETCH response with streamed literals in it, written piece by piece."""
    session.begin_response()
    try:
        session.write(b"* %d FETCH (" % seq)
        for index, part in enumerate(parts):
            if index:
                session.write(b" ")
            if isinstance(part, bytes):
                session.write(part)
                continue
            session.write(part.label + b" {%d}\r\n" % part.length())
            async for chunk in part.message.chunks(part.start, part.count):
                session.write(no_nuls(chunk))
                await session.drain()
        session.write(b")\r\n")
        await session.drain()
    finally:
        _close_streams(parts)
    session.end_response()


#: Renders one item of a message from the snapshot (and the pool's renderings),
#: without an await; None: the ordinary path must do it.
SimpleRenderer = Callable[
    [SelectedView, MessageInfo, frozenset[str], Structure | None], bytes | None
]


def _flags_item(
    view: SelectedView, info: MessageInfo, flags: frozenset[str], _: Structure | None
) -> bytes:
    view.note_flags(info.uid, flags)
    return b"FLAGS " + wire.flag_list(view.reported_flags(info.uid))


def _envelope_item(
    view: SelectedView, info: MessageInfo, flags: frozenset[str], parsed: Structure | None
) -> bytes | None:
    return None if parsed is None else b"ENVELOPE " + no_nuls(parsed.envelope())


def _structure_item(extended: bool) -> SimpleRenderer:
    label = b"BODYSTRUCTURE " if extended else b"BODY "

    def render(
        view: SelectedView, info: MessageInfo, flags: frozenset[str], parsed: Structure | None
    ) -> bytes | None:
        if parsed is None:
            return None
        rendered = parsed.bodystructure(extended)
        return None if rev2.needs_decoding(view, rendered) else label + no_nuls(rendered)

    return render


#: The plain items :func:`_render_simple` answers (as :func:`_render` would).
_SIMPLE: dict[str, SimpleRenderer] = {
    "UID": lambda view, info, flags, parsed: b"UID %d" % info.uid,
    "FLAGS": _flags_item,
    "INTERNALDATE": lambda view, info, flags, parsed: (
        b"INTERNALDATE " + wire.imap_date(info.internal_date)
    ),
    "MODSEQ": lambda view, info, flags, parsed: b"MODSEQ (%d)" % info.modseq,
    "RFC822.SIZE": lambda view, info, flags, parsed: b"RFC822.SIZE %d" % info.size,
    "ENVELOPE": _envelope_item,
    "BODYSTRUCTURE": _structure_item(True),
    "BODY": _structure_item(False),
}


def _simple_renderers(items: list[FetchItem]) -> list[SimpleRenderer] | None:
    """One renderer per item when every item is a plain one of :data:`_SIMPLE`:
    a FETCH of flags or of a cold big folder's structures then costs the event
    loop a function call per item, not an item-type dispatch and an await."""
    renderers = []
    for item in items:
        if type(item) is not FetchAttribute or item.name in EXTENSION_ITEMS:
            return None
        renderer = _SIMPLE.get(item.name)
        if renderer is None:
            return None
        renderers.append(renderer)
    return renderers


def _render_simple(
    renderers: list[SimpleRenderer],
    seq: int,
    view: SelectedView,
    info: MessageInfo,
    flags: frozenset[str],
    parsed: Structure | None,
) -> bytes | None:
    """The message's whole FETCH response line, or None if an item needs :func:`_render`."""
    parts = []
    for render in renderers:
        part = render(view, info, flags, parsed)
        if part is None:
            return None
        parts.append(part)
    return b"* %d FETCH (%s)\r\n" % (seq, b" ".join(parts))


async def _render(
    item: FetchItem,
    view: SelectedView,
    cache: MessageCache,
    info: MessageInfo,
    flags: frozenset[str],
    rendered: Structure | None = None,
) -> bytes | Streamed:
    """One item of a message's FETCH response. ``rendered``: its structure
    parsed by the pool (the cold FETCH), so the parse cache is not asked."""
    if isinstance(item, BinarySection):
        return await binary.render(item, view.folder, cache, info)
    if isinstance(item, BodySection) and item.section == WHOLE and info.size >= STREAM_FROM:
        label = b"BODY[]"
        start, count = item.partial if item.partial is not None else (0, None)
        if item.partial is not None:
            label += b"<%d>" % start
        return Streamed(label, await view.folder.open_message(info.uid), start, count)
    if item == FetchAttribute("RFC822") and info.size >= STREAM_FROM:
        return Streamed(b"RFC822", await view.folder.open_message(info.uid))
    if isinstance(item, BodySection):
        data = await cache.section(view.folder, info, item.section)
        label = b"BODY[" + section_label(item.section).encode() + b"]"
        if item.partial is not None:
            start, count = item.partial
            data = data[start : start + count]
            label += b"<%d>" % start
        return label + b" " + wire.literal(no_nuls(data))
    name = item.name
    extension = EXTENSION_ITEMS.get(name)
    if extension is not None:
        return await extension(view, cache, info)
    if name == "UID":
        return b"UID %d" % info.uid
    if name == "FLAGS":
        view.note_flags(info.uid, flags)
        return b"FLAGS " + wire.flag_list(view.reported_flags(info.uid))
    if name == "INTERNALDATE":
        return b"INTERNALDATE " + wire.imap_date(info.internal_date)
    if name == "MODSEQ":
        return b"MODSEQ (%d)" % info.modseq
    if name == "RFC822.SIZE":
        return b"RFC822.SIZE %d" % info.size
    if name in _RFC822_SECTIONS:
        data = await cache.section(view.folder, info, _RFC822_SECTIONS[name])
        return name.encode() + b" " + wire.literal(no_nuls(data))
    parsed = rendered if rendered is not None else await cache.structure(view.folder, info)
    if name == "ENVELOPE":
        return b"ENVELOPE " + no_nuls(parsed.envelope())
    # IMAP4rev2 sessions get RFC 2231 parameters decoded (rev2.py).
    if name == "BODYSTRUCTURE":
        structure = await rev2.bodystructure(view, cache, info, parsed, True)
        return b"BODYSTRUCTURE " + no_nuls(structure)
    return b"BODY " + no_nuls(await rev2.bodystructure(view, cache, info, parsed, False))
