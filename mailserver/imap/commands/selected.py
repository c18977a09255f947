"""Selected-state commands: CHECK, CLOSE, EXPUNGE, SEARCH, FETCH, COPY and
their UID forms (RFC 3501 6.4); STORE is in ``store.py``."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from mailserver.imap.condstore import expunged_code, search_modseq
from mailserver.imap.contexts import check_tag, open_context
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

log = logging.getLogger("mailserver.imap")

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
    log.info(
        "imap %s: %s expunged %d messages from %s",
        session.peer,
        session.user,
        len(removed),
        view.folder.name,
    )
    session.recorder.count("expunged", len(removed))
    # The session's refresh after this command sends the EXPUNGE responses.
    code = await expunged_code(session, view.folder, bool(removed))
    return Response("OK", "Expunge completed", code)


async def search(session: ImapSession, command: Search) -> Response:
    view = view_of(session)
    if command.returns is None and rev2_on(session):
        command = dataclasses.replace(command, returns=("ALL",))  # RFC 9051 6.4.4
    updating = command.returns is not None and "UPDATE" in command.returns
    if updating:
        check_tag(view, command.tag)
    saving = command.returns is not None and "SAVE" in command.returns
    try:
        uids = await SearchEvaluator(view).run(command.key)
    except Exception:
        if saving:
            view.saved_result = frozenset()  # RFC 5182 2.1: a failed SAVE empties $
        raise
    if updating:
        # RFC 5267 4.3: from now on the client hears of changes to this result.
        await session.send(open_context(view, command.tag, command.uid, command.key, None, uids))
    reported = reported_messages(command, uids)
    modseq = search_modseq(session, command.key, reported)
    if command.returns is not None:
        if "SAVE" in command.returns:
            # RFC 5182 2.1: what the reply would name becomes ``$``; SAVE alone replies nothing.
            view.saved_result = frozenset(reported)
            if command.returns == ("SAVE",):
                return Response("OK", f"{command.name} completed")
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


def reported_messages(command: Search, uids: list[int]) -> list[int]:
    """The matches a reply names, whose highest MODSEQ it carries (RFC 7162 3.1.5):
    only the MIN and/or MAX message when the client asked for nothing else."""
    returns = set(command.returns or ())
    if not uids or not returns & {"MIN", "MAX"} or returns & {"ALL", "COUNT"}:
        return uids
    return [uid for option, uid in (("MIN", uids[0]), ("MAX", uids[-1])) if option in returns]


async def fetch(session: ImapSession, command: Fetch) -> Response:
    response = await run_fetch(session, command)
    if response.status == "OK":
        # "Fetched by UID" is one of the lab's exercises (the activity record counts it).
        session.recorder.count("uid_fetch" if command.uid else "fetch")
    return response


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
