"""CREATE-SPECIAL-USE (RFC 6154 3): ``CREATE name (USE (\\Sent))`` makes a folder with a
role clients recognise; a plain CREATE goes to ``mailboxes.create``.

The attributes a real folder can carry are accepted (``\\Archive``,
``\\Drafts``, ``\\Junk``, ``\\Sent``, ``\\Trash``); ``\\All`` and ``\\Flagged`` name
virtual collections we do not build, and anything else is unknown: those
are ``NO [USEATTR]`` and nothing is created, as the RFC requires.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from mailserver.imap.commands import mailboxes
from mailserver.imap.errors import Response, no
from mailserver.imap.objectid import mailbox_id_code
from mailserver.imap.parser.commands import MailboxCommand
from mailserver.imap.parser.create import CreateSpecialUse
from mailserver.storage import DELIMITER, INBOX, StorageError

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

CREATABLE = {a.lower(): a for a in ("\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash")}


async def create(session: ImapSession, command: MailboxCommand | CreateSpecialUse) -> Response:
    if isinstance(command, MailboxCommand):
        return await mailboxes.create(session, command)
    attributes = []
    for use in command.uses:
        known = CREATABLE.get(use.lower())
        if known is None:
            raise no(f"Cannot create a mailbox for {use[:40]}", "USEATTR")
        if known not in attributes:
            attributes.append(known)
    name = command.mailbox.rstrip(DELIMITER)
    if not name or name == INBOX:
        raise no("Invalid mailbox name", "CANNOT")
    mailbox = mailboxes.mailbox_of(session)
    await mailbox.create_special_folder(name, attributes)
    parts = name.split(DELIMITER)
    for depth in range(1, len(parts)):  # superiors, as a plain CREATE makes them
        with contextlib.suppress(StorageError):
            await mailbox.create_folder(DELIMITER.join(parts[:depth]))
    try:
        code: str | None = mailbox_id_code(await (await mailbox.folder(name)).snapshot())
    except StorageError:
        code = None
    return Response("OK", "Create completed", code)
