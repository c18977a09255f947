"""Authenticated-state commands on folders: SELECT/EXAMINE, CREATE, DELETE, RENAME,
(UN)SUBSCRIBE, LSUB, STATUS (RFC 3501 6.3); LIST is in ``list_extended.py``."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from mailserver.imap.condstore import enable_condstore
from mailserver.imap.errors import Response, no
from mailserver.imap.listing import lsub_entries
from mailserver.imap.notify import FOLDERS, SUBSCRIPTIONS, publish_folder_change
from mailserver.imap.objectid import mailbox_id, mailbox_id_code
from mailserver.imap.parser.commands import ListCommand, MailboxCommand, Rename, Status
from mailserver.imap.parser.lexer import ParseError, decode_mailbox
from mailserver.imap.utf8 import mailbox_name, utf8_on
from mailserver.storage import DELETED, DELIMITER, INBOX, SEEN, Mailbox, StorageError

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

log = logging.getLogger("mailserver.imap")


def mailbox_of(session: ImapSession) -> Mailbox:
    assert session.mailbox is not None, "authenticated state without a mailbox"
    return session.mailbox


def wire_name(name: str, utf8: bool = False) -> bytes:
    """A mailbox name as sent: modified UTF-7, or UTF-8 once the client ENABLEd UTF8=ACCEPT."""
    return mailbox_name(name, utf8)


#: Mailbox names go out (and come in) as UTF-8 (RFC 6855 3).
utf8_names = utf8_on


async def create(session: ImapSession, command: MailboxCommand) -> Response:
    # A trailing delimiter only declares intent to create children (RFC 3501 6.3.3).
    name = command.mailbox.rstrip(DELIMITER)
    if not name:
        raise no("Invalid mailbox name", "CANNOT")
    if name == INBOX:
        raise no("INBOX always exists", "ALREADYEXISTS")
    mailbox = mailbox_of(session)
    await mailbox.create_folder(name)
    publish_folder_change(session, FOLDERS, name)  # NOTIFY MailboxName (RFC 5465)
    # RFC 3501 6.3.3: superior names SHOULD be created too, so they are selectable.
    parts = name.split(DELIMITER)
    for depth in range(1, len(parts)):
        with contextlib.suppress(StorageError):
            await mailbox.create_folder(DELIMITER.join(parts[:depth]))
            publish_folder_change(session, FOLDERS, DELIMITER.join(parts[:depth]))
    log.info("imap %s: %s created folder %s", session.peer, session.user, name)
    code = None
    with contextlib.suppress(StorageError):  # deleted again at once: no id to tell
        code = mailbox_id_code(await (await mailbox.folder(name)).snapshot())
    return Response("OK", "Create completed", code)


async def delete(session: ImapSession, command: MailboxCommand) -> Response:
    if command.mailbox == INBOX:
        raise no("INBOX cannot be deleted", "CANNOT")
    if session.view is not None and session.view.folder.name == command.mailbox:
        session.unselect()
    await mailbox_of(session).delete_folder(command.mailbox)
    publish_folder_change(session, FOLDERS, command.mailbox, on=False)
    log.info("imap %s: %s deleted folder %s", session.peer, session.user, command.mailbox)
    return Response("OK", "Delete completed")


async def rename(session: ImapSession, command: Rename) -> Response:
    if not command.old or not command.new.rstrip(DELIMITER):
        raise no("Invalid mailbox name", "CANNOT")
    if command.new == INBOX:
        raise no("INBOX already exists", "ALREADYEXISTS")
    new = command.new.rstrip(DELIMITER)
    await mailbox_of(session).rename_folder(command.old, new)
    publish_folder_change(session, FOLDERS, new, old=command.old)
    return Response("OK", "Rename completed")


async def subscribe(session: ImapSession, command: MailboxCommand) -> Response:
    mailbox = mailbox_of(session)
    if command.name == "SUBSCRIBE":
        await mailbox.subscribe(command.mailbox)
        publish_folder_change(session, SUBSCRIPTIONS, command.mailbox)
        return Response("OK", "Subscribe completed")
    await mailbox.unsubscribe(command.mailbox)
    publish_folder_change(session, SUBSCRIPTIONS, command.mailbox, on=False)
    return Response("OK", "Unsubscribe completed")


unsubscribe = subscribe


async def lsub(session: ImapSession, command: ListCommand) -> Response:
    """LSUB (RFC 3501 6.3.9); LIST, with its extensions, is in ``list_extended.py``."""
    verb = command.name.encode()
    utf8 = utf8_names(session)
    if not command.pattern:
        return Response("OK", f"{command.name} completed")
    try:
        pattern = decode_mailbox((command.reference + command.pattern).encode("utf-8"), utf8)
    except ParseError:
        return Response("OK", f"{command.name} completed")
    mailbox = mailbox_of(session)
    existing = set(await mailbox.list_folders())
    entries = lsub_entries(await mailbox.subscriptions(), pattern)
    out = []
    for entry in entries:
        attributes = []
        if entry.noselect or entry.name not in existing:
            attributes.append(b"\\Noselect")
        out.append(
            b'* %s (%s) "%s" %s\r\n'
            % (verb, b" ".join(attributes), DELIMITER.encode(), wire_name(entry.name, utf8))
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
        # Recent for this session (if it has the folder selected) and those no
        # session has claimed yet; other sessions' \Recent messages are theirs.
        "RECENT": len(
            (view.recent if view is not None and selected_here else set())
            | await folder.recent_uids()
        ),
        "UIDNEXT": snapshot.uidnext,
        "UIDVALIDITY": snapshot.uidvalidity,
        "UNSEEN": sum(1 for m in snapshot.messages if SEEN not in m.flags),
        "HIGHESTMODSEQ": snapshot.highest_modseq,
        "DELETED": sum(1 for m in snapshot.messages if DELETED in m.flags),
        "DELETED-STORAGE": sum(m.size for m in snapshot.messages if DELETED in m.flags),
        # RFC 8438: the octets of all messages, as RFC822.SIZE counts them.
        "SIZE": sum(m.size for m in snapshot.messages),
    }
    if "HIGHESTMODSEQ" in command.items:
        enable_condstore(session)  # RFC 7162 3.1: a CONDSTORE enabling command
    texts = {"MAILBOXID": b"(" + mailbox_id(snapshot).encode() + b")"}  # RFC 8474
    items = b" ".join(
        item.encode() + b" " + (texts[item] if item in texts else b"%d" % values[item])
        for item in command.items
    )
    name = wire_name(folder.name, utf8_names(session))
    await session.send(b"* STATUS %s (%s)\r\n" % (name, items))
    return Response("OK", "Status completed")
