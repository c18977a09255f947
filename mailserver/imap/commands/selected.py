"""Selected-state commands: CHECK, CLOSE, EXPUNGE, SEARCH, FETCH, COPY and
their UID forms (RFC 3501 6.4); STORE is in ``store.py``."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from mailserver.imap.condstore import expunged_code, search_modseq
from mailserver.imap.errors import Response, no, storage_error_response
from mailserver.imap.esearch import esearch_response
from mailserver.imap.fetch import VANISHED, run_fetch
from mailserver.imap.parser.commands import Copy, Fetch, NoArguments, Search
from mailserver.imap.response_codes import copyuid_code
from mailserver.imap.rev2 import rev2_on
from mailserver.imap.search import SearchEvaluator
from mailserver.imap.sequences import resolve_uids
from mailserver.imap.view import SelectedView
from mailserver.storage import DELETED, ErrorKind, Folder, StorageError

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

T = TypeVar("T")


def view_of(session: ImapSession) -> SelectedView:
    assert session.view is not None, "selected state without a view"
    return session.view


def writable(view: SelectedView) -> None:
    if view.readonly:
        raise no("Mailbox is read-only (EXAMINE)", "READ-ONLY")


async def check(session: ImapSession, command: NoArguments) -> Response:
    # Every change is already durable when acknowledged; the refresh after
    # the command reports what others did (RFC 3501 6.4.1).
    return Response("OK", "Check completed")


async def deleted_uids(view: SelectedView) -> list[int]:
    snapshot = await view.folder.snapshot()
    return [
        uid
        for uid in view.uids
        if (info := snapshot.find(uid)) is not None and DELETED in info.flags
    ]


async def close(session: ImapSession, command: NoArguments) -> Response:
    """RFC 3501 6.4.2: whatever happens to the expunge, the session leaves the
    selected state. A folder another session deleted or renamed meanwhile has
    nothing left to expunge, so that is still a plain OK."""
    view = view_of(session)
    try:
        if not view.readonly:
            # Silent expunge: no untagged EXPUNGE responses (RFC 3501 6.4.2).
            deleted = await deleted_uids(view)
            if deleted:
                await view.folder.expunge(deleted)
    except StorageError as exc:
        if exc.kind is not ErrorKind.NOT_FOUND:
            raise
    finally:
        session.unselect()
    return Response("OK", "Close completed")


async def expunge(session: ImapSession, command: NoArguments) -> Response:
    view = view_of(session)
    writable(view)
    deleted = await deleted_uids(view)
    removed = await view.folder.expunge(deleted) if deleted else []
    # The session's refresh after this command sends the EXPUNGE responses.
    code = await expunged_code(session, view.folder, bool(removed))
    return Response("OK", "Expunge completed", code)


async def search(session: ImapSession, command: Search) -> Response:
    view = view_of(session)
    if command.returns is None and rev2_on(session):
        command = dataclasses.replace(command, returns=("ALL",))  # RFC 9051 6.4.4
    uids = await SearchEvaluator(view).run(command.key)
    modseq = search_modseq(session, command.key, uids)
    if command.returns is not None:
        # RFC 4731: the client asked for an ESEARCH response instead.
        await session.send(esearch_response(view, command, uids, modseq))
        return Response("OK", f"{command.name} completed")
    if command.uid:
        numbers = uids
    else:
        numbers = [seq for uid in uids if (seq := view.seq_of(uid)) is not None]
    line = b"* SEARCH" + b"".join(b" %d" % n for n in numbers)
    if modseq is not None:
        line += b" (MODSEQ %d)" % modseq  # RFC 7162 3.1.5
    line += b"\r\n"
    await session.send(line)
    return Response("OK", f"{command.name} completed")


async def fetch(session: ImapSession, command: Fetch) -> Response:
    return await run_fetch(session, command)


async def copy_source_and_target(
    session: ImapSession, command: Copy
) -> tuple[list[int], Folder] | Response:
    """The UIDs COPY/MOVE name and the folder they go to, or the reply refusing them."""
    view = view_of(session)
    assert session.mailbox is not None
    uids = resolve_uids(view, command.sequence, command.uid)
    if any(view.info(uid) is None for uid in uids):
        # RFC 2180 4.4.1: refuse rather than copy half of what was asked.
        return VANISHED
    try:
        target = await session.mailbox.folder(command.mailbox)
    except StorageError as exc:
        if exc.kind is ErrorKind.NOT_FOUND:
            return storage_error_response(exc, target_missing=True)
        raise
    return uids, target


async def in_transaction(session: ImapSession, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` inside the session's store transaction, if it has one."""
    if session.handle is not None:
        with session.handle.transaction():
            return await work()
    return await work()


async def copy(session: ImapSession, command: Copy) -> Response:
    found = await copy_source_and_target(session, command)
    if isinstance(found, Response):
        return found
    uids, target = found
    source = view_of(session).folder
    mapping: dict[int, int] = {}
    if uids:
        mapping = await in_transaction(session, lambda: source.copy_to(uids, target))
    # RFC 4315 3: COPYUID names the copies' UIDs.
    return Response("OK", f"{command.name} completed", await copyuid_code(target, mapping))
