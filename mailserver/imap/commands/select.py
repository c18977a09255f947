"""SELECT and EXAMINE (RFC 3501 6.3.1-2) with CONDSTORE and QRESYNC (RFC 7162 3.1.8, 3.2.5).

A client that comes back after days sends what it remembers, ``(QRESYNC
(uidvalidity modseq known-uids))``, and gets in the SELECT reply only what
changed: ``* VANISHED (EARLIER)`` for the messages removed since and a
FETCH of UID, FLAGS and MODSEQ for those whose flags changed or that are
new. Nothing else needs to be downloaded again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from mailserver.imap.commands.mailboxes import mailbox_of
from mailserver.imap.condstore import (
    enable_condstore,
    qresync_on,
    ranges_text,
    vanished_since,
)
from mailserver.imap.errors import Response, bad, no
from mailserver.imap.objectid import mailbox_id_code
from mailserver.imap.parser.commands import Select
from mailserver.imap.parser.condstore import QresyncParams
from mailserver.imap.rev2 import rev2_on
from mailserver.imap.states import State
from mailserver.imap.view import SelectedView

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

log = logging.getLogger("mailserver.imap")

CLOSED = b"* OK [CLOSED] Previous mailbox closed\r\n"


async def select(session: ImapSession, command: Select) -> Response:
    readonly = command.name == "EXAMINE"
    params = command.params
    if params.qresync is not None and not qresync_on(session):
        # RFC 7162 3.2.5: only after ENABLE QRESYNC.
        raise bad("QRESYNC is not enabled")
    # RFC 3501 6.3.1: a failed SELECT leaves no mailbox selected.
    was_selected = session.view is not None
    session.unselect()
    if was_selected and qresync_on(session):
        # RFC 7162 3.2.11: responses before this were about the old mailbox.
        await session.send(CLOSED)
    if not command.mailbox:
        raise no("Mailbox does not exist", "NONEXISTENT")
    if params.condstore:
        enable_condstore(session)
    folder = await mailbox_of(session).folder(command.mailbox)
    snapshot = await folder.snapshot(claim_recent=not readonly)
    view = SelectedView(folder, readonly, snapshot)
    view.condstore = "CONDSTORE" in session.enabled
    view.qresync = qresync_on(session)
    view.rev2 = rev2_on(session)
    if readonly:
        # EXAMINE claims nothing (RFC 3501 6.3.2) but still shows what is \Recent.
        view.recent = set(await folder.recent_uids())
    lines = [*view.flags_announcement(), b"* %d EXISTS\r\n" % view.exists]
    if not view.rev2:
        lines.append(b"* %d RECENT\r\n" % len(view.recent))  # gone in IMAP4rev2
    unseen = view.first_unseen()
    if unseen is not None:
        lines.append(b"* OK [UNSEEN %d] First unseen\r\n" % unseen)
    lines.append(b"* OK [UIDVALIDITY %d] UIDs valid\r\n" % snapshot.uidvalidity)
    lines.append(b"* OK [UIDNEXT %d] Predicted next UID\r\n" % snapshot.uidnext)
    # RFC 7162 3.1.2.1: sent on every SELECT by a store that keeps mod-sequences.
    lines.append(b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % snapshot.highest_modseq)
    lines.append(b"* OK [%s] Ok\r\n" % mailbox_id_code(snapshot).encode())  # RFC 8474
    await session.send(b"".join(lines))
    session.view = view
    session.state = State.SELECTED
    log.info(
        "imap %s: %s %s %s (%d messages)",
        session.peer,
        session.user,
        "examined" if readonly else "selected",
        folder.name,
        view.exists,
    )
    if params.qresync is not None:
        await _resync(session, view, params.qresync)
    if readonly:
        return Response("OK", "Examine completed", "READ-ONLY")
    return Response("OK", "Select completed", "READ-WRITE")


async def _resync(session: ImapSession, view: SelectedView, params: QresyncParams) -> None:
    """RFC 7162 3.2.5: what changed since the client's ``modseq``, if its UIDs are still valid."""
    snapshot = view.snapshot
    if params.uidvalidity != snapshot.uidvalidity:
        return  # the client must forget everything; EXISTS and UIDVALIDITY told it so
    last = snapshot.uidnext - 1
    known = (
        params.known_uids.resolve(max(last, 1)) if params.known_uids is not None else [(1, last)]
    )
    vanished = await vanished_since(
        view.folder, params.modseq, known, snapshot.uids, snapshot.uidnext
    )
    if vanished:
        await session.send(b"* VANISHED (EARLIER) %s\r\n" % ranges_text(vanished))
    for seq, uid in enumerate(view.uids, 1):
        info = snapshot.find(uid)
        if info is not None and info.modseq > params.modseq:
            session.write(view.flags_fetch(seq, info))
            await session.drain()
