"""Authenticated-state commands on folders: SELECT/EXAMINE, CREATE, DELETE, RENAME,
(UN)SUBSCRIBE, LIST/LSUB, STATUS (RFC 3501 6.3)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from mailserver.imap import wire
from mailserver.imap.errors import Response, no
from mailserver.imap.listing import list_entries
from mailserver.imap.parser.commands import ListCommand, MailboxCommand, Rename, Status
from mailserver.imap.parser.lexer import ParseError, decode_mailbox, encode_mailbox
from mailserver.imap.states import State
from mailserver.imap.view import SelectedView
from mailserver.storage import DELIMITER, INBOX, SEEN, Mailbox, StorageError

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession


def mailbox_of(session: ImapSession) -> Mailbox:
    assert session.mailbox is not None, "authenticated state without a mailbox"
    return session.mailbox


def wire_name(name: str) -> bytes:
    return wire.astring(encode_mailbox(name))


async def select(session: ImapSession, command: MailboxCommand) -> Response:
    readonly = command.name == "EXAMINE"
    # RFC 3501 6.3.1: a failed SELECT leaves no mailbox selected.
    session.unselect()
    if not command.mailbox:
        raise no("Mailbox does not exist", "NONEXISTENT")
    folder = await mailbox_of(session).folder(command.mailbox)
    snapshot = await folder.snapshot(claim_recent=not readonly)
    view = SelectedView(folder, readonly, snapshot)
    # EXAMINE claims nothing (RFC 3501 6.3.2) but still reports how many are \Recent.
    recent = await folder.recent_count() if readonly else len(view.recent)
    lines = [
        *view.flags_announcement(),
        b"* %d EXISTS\r\n" % view.exists,
        b"* %d RECENT\r\n" % recent,
    ]
    unseen = view.first_unseen()
    if unseen is not None:
        lines.append(b"* OK [UNSEEN %d] First unseen\r\n" % unseen)
    lines.append(b"* OK [UIDVALIDITY %d] UIDs valid\r\n" % snapshot.uidvalidity)
    lines.append(b"* OK [UIDNEXT %d] Predicted next UID\r\n" % snapshot.uidnext)
    await session.send(b"".join(lines))
    session.view = view
    session.state = State.SELECTED
    if readonly:
        return Response("OK", "Examine completed", "READ-ONLY")
    return Response("OK", "Select completed", "READ-WRITE")


async def create(session: ImapSession, command: MailboxCommand) -> Response:
    # A trailing delimiter only declares intent to create children (RFC 3501 6.3.3).
    name = command.mailbox.rstrip(DELIMITER)
    if not name:
        raise no("Invalid mailbox name", "CANNOT")
    if name == INBOX:
        raise no("INBOX always exists", "ALREADYEXISTS")
    mailbox = mailbox_of(session)
    await mailbox.create_folder(name)
    # RFC 3501 6.3.3: superior names SHOULD be created too, so they are selectable.
    parts = name.split(DELIMITER)
    for depth in range(1, len(parts)):
        with contextlib.suppress(StorageError):
            await mailbox.create_folder(DELIMITER.join(parts[:depth]))
    return Response("OK", "Create completed")


async def delete(session: ImapSession, command: MailboxCommand) -> Response:
    if command.mailbox == INBOX:
        raise no("INBOX cannot be deleted", "CANNOT")
    if session.view is not None and session.view.folder.name == command.mailbox:
        session.unselect()
    await mailbox_of(session).delete_folder(command.mailbox)
    return Response("OK", "Delete completed")


async def rename(session: ImapSession, command: Rename) -> Response:
    if not command.old or not command.new.rstrip(DELIMITER):
        raise no("Invalid mailbox name", "CANNOT")
    if command.new == INBOX:
        raise no("INBOX already exists", "ALREADYEXISTS")
    await mailbox_of(session).rename_folder(command.old, command.new.rstrip(DELIMITER))
    return Response("OK", "Rename completed")


async def subscribe(session: ImapSession, command: MailboxCommand) -> Response:
    mailbox = mailbox_of(session)
    if command.name == "SUBSCRIBE":
        await mailbox.subscribe(command.mailbox)
        return Response("OK", "Subscribe completed")
    await mailbox.unsubscribe(command.mailbox)
    return Response("OK", "Unsubscribe completed")


unsubscribe = subscribe


async def list_(session: ImapSession, command: ListCommand) -> Response:
    verb = command.name.encode()
    if not command.pattern:
        if command.name == "LIST":
            # RFC 3501 6.3.8: the empty pattern asks for the delimiter and root.
            await session.send(b'* LIST (\\Noselect) "/" ""\r\n')
        return Response("OK", f"{command.name} completed")
    try:
        pattern = decode_mailbox((command.reference + command.pattern).encode("utf-8"))
    except ParseError:
        return Response("OK", f"{command.name} completed")
    mailbox = mailbox_of(session)
    names = await mailbox.list_folders()
    if command.name == "LSUB":
        subscribed = await mailbox.subscriptions()
        entries = list_entries(subscribed, pattern)
    else:
        entries = list_entries(names, pattern)
    existing = set(names)
    out = []
    for entry in entries:
        attributes = []
        if command.name == "LSUB":
            if entry.noselect or entry.name not in existing:
                attributes.append(b"\\Noselect")
        else:
            if entry.noselect:
                attributes.append(b"\\Noselect")
            attributes.append(b"\\HasChildren" if entry.has_children else b"\\HasNoChildren")
        out.append(
            b'* %s (%s) "%s" %s\r\n'
            % (verb, b" ".join(attributes), DELIMITER.encode(), wire_name(entry.name))
        )
    await session.send_untagged(out)
    return Response("OK", f"{command.name} completed")


async def status(session: ImapSession, command: Status) -> Response:
    folder = await mailbox_of(session).folder(command.mailbox)
    snapshot = await folder.snapshot()
    view = session.view
    selected_here = view is not None and view.folder is folder
    values = {
        "MESSAGES": len(snapshot.messages),
        # Recent for this session (if it has the folder selected) plus those no
        # session has claimed yet; other sessions' \Recent messages are theirs.
        "RECENT": (len(view.recent) if view is not None and selected_here else 0)
        + await folder.recent_count(),
        "UIDNEXT": snapshot.uidnext,
        "UIDVALIDITY": snapshot.uidvalidity,
        "UNSEEN": sum(1 for m in snapshot.messages if SEEN not in m.flags),
    }
    items = b" ".join(b"%s %d" % (item.encode(), values[item]) for item in command.items)
    await session.send(b"* STATUS %s (%s)\r\n" % (wire_name(folder.name), items))
    return Response("OK", "Status completed")
