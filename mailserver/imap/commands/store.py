"""STORE and UID STORE (RFC 3501 6.4.6) with CONDSTORE's UNCHANGEDSINCE (RFC 7162 3.1.3).

``UNCHANGEDSINCE m`` changes only messages whose mod-sequence is still at
most ``m``; the others are named in ``OK [MODIFIED set]`` so a client
editing flags on two devices never overwrites a change it has not seen.
Once CONDSTORE is on, every FETCH response carries the message's new
MODSEQ, even with ``.SILENT`` (for the messages that really changed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.imap import wire
from mailserver.imap.condstore import enable_condstore
from mailserver.imap.errors import Response, no
from mailserver.imap.parser.commands import RECENT_FLAG, Store
from mailserver.imap.sequences import resolve_uids
from mailserver.storage import FlagMode

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

_MODES = {"replace": FlagMode.REPLACE, "add": FlagMode.ADD, "remove": FlagMode.REMOVE}


async def store(session: ImapSession, command: Store) -> Response:
    view = session.view
    assert view is not None, "selected state without a view"
    if view.readonly:
        raise no("Mailbox is read-only (EXAMINE)", "READ-ONLY")
    if command.unchanged_since is not None:
        enable_condstore(session)  # RFC 7162 3.1: a CONDSTORE enabling command
    uids = resolve_uids(view, command.sequence, command.uid)
    present = [uid for uid in uids if view.info(uid) is not None]
    before = {uid: info.flags for uid in present if (info := view.info(uid)) is not None}
    flags = [flag for flag in command.flags if flag != RECENT_FLAG]
    mode = _MODES[command.mode]
    failed: list[int] = []
    if command.unchanged_since is None:
        result = await view.folder.store_flags(present, flags, mode)
    else:
        result, failed = await view.folder.store_flags_conditional(
            present, flags, mode, command.unchanged_since
        )
    modseqs: dict[int, int] = {}
    if view.condstore and result:
        fresh = await view.folder.snapshot()
        modseqs = {uid: info.modseq for uid in result if (info := fresh.find(uid)) is not None}
    out = []
    new_keywords = {f for f in flags if not f.startswith("\\")} - view.keywords
    if new_keywords and result:
        # Announce the keyword before any FETCH response carries it (RFC 3501 7.2.6).
        view.keywords |= new_keywords
        out.extend(view.flags_announcement())
    for uid in present:
        new_flags = result.get(uid)
        seq = view.seq_of(uid)
        if new_flags is None or seq is None:
            continue
        view.note_flags(uid, new_flags)
        changed = new_flags != before.get(uid)
        parts = []
        if not command.silent:
            parts.append(b"FLAGS " + wire.flag_list(view.reported_flags(uid)))
        elif not (view.condstore and changed):
            continue
        if command.uid or view.condstore:
            parts.append(b"UID %d" % uid)
        if view.condstore and uid in modseqs:
            parts.append(b"MODSEQ (%d)" % modseqs[uid])
        out.append(b"* %d FETCH (%s)\r\n" % (seq, b" ".join(parts)))
    await session.send_untagged(out)
    # Messages expunged by another session are skipped without a NO (RFC 2180
    # 4.2.1 allows it, Dovecot does it): the EXPUNGE follows at the next NOOP.
    if failed:
        numbers = failed if command.uid else [s for u in failed if (s := view.seq_of(u))]
        code = b"MODIFIED " + wire.sequence_set(numbers)
        return Response("OK", "Conditional STORE failed", code.decode())
    return Response("OK", f"{command.name} completed")
