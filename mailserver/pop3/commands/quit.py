"""QUIT (RFC 1939 sections 5 and 6): leave, and in TRANSACTION run the UPDATE state.

Deletions become real only here, inside a registry transaction so a server
shutdown waits for them; ``+OK`` is sent only once the expunge is durable.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from mailserver.pop3.commands.retr import mark_retrieved_seen
from mailserver.pop3.parser import Command
from mailserver.pop3.states import State
from mailserver.storage import ErrorKind, StorageError

if TYPE_CHECKING:
    from mailserver.pop3.maildrop import Maildrop
    from mailserver.pop3.session import Pop3Session

log = logging.getLogger("mailserver.pop3")

UPDATE_FAILED = "-ERR [SYS/TEMP] some deleted messages were not removed, please try again"


async def run(session: Pop3Session, command: Command) -> None:
    session.closing = True
    maildrop = session.maildrop
    if session.state is not State.TRANSACTION or maildrop is None:
        await session.reply("+OK")
        return
    session.state = State.UPDATE
    uids = maildrop.deleted_uids()
    if uids and not await _expunge(session, maildrop, uids):
        await mark_retrieved_seen(session)
        await session.reply(UPDATE_FAILED)
        return
    await mark_retrieved_seen(session, skip_deleted=True)
    # The "download and quit" of lab exercise 3: the activity record counts it.
    session.recorder.count("updated")
    await session.reply("+OK")


async def _expunge(session: Pop3Session, maildrop: Maildrop, uids: list[int]) -> bool:
    guard = session.handle.transaction() if session.handle else contextlib.nullcontext()
    try:
        with guard:
            removed = await maildrop.folder.expunge(uids)
    except StorageError as exc:
        if exc.kind in (ErrorKind.EXPUNGED, ErrorKind.NOT_FOUND):
            # Another session removed them first: the client's wish is fulfilled.
            return True
        log.warning("pop3 %s: UPDATE for %s failed: %s", session.peer, session.user, exc.message)
        return False
    except Exception:
        log.exception("pop3 %s: UPDATE for %s failed", session.peer, session.user)
        return False
    log.info(
        "pop3 %s: %s deleted %d messages (%d already gone)",
        session.peer,
        session.user,
        len(removed),
        len(uids) - len(removed),
    )
    return True
