"""GETQUOTA, GETQUOTAROOT, SETQUOTA (RFC 9208) over the store's per-user storage limit.

Every folder of a user shares one quota root, ``""``, holding one resource,
STORAGE, counted in units of 1024 octets as the RFC says. The limit comes
from the configuration, so SETQUOTA is refused; the store enforces the
limit on APPEND/COPY/MOVE and delivery (``StorageError(OVER_QUOTA)``, which
``errors.py`` maps to ``NO [OVERQUOTA]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.imap.commands.mailboxes import mailbox_of
from mailserver.imap.errors import Response, no
from mailserver.imap.parser.commands import MailboxCommand, QuotaRoot, SetQuota
from mailserver.imap.utf8 import mailbox_name, utf8_on
from mailserver.storage import Mailbox

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

#: The one quota root: all of the user's folders.
ROOT = ""
CAPABILITIES = ("QUOTA", "QUOTA=RES-STORAGE")


def kibibytes_used(octets: int) -> int:
    """Usage rounds up: a mailbox holding anything never reads as empty."""
    return (octets + 1023) // 1024


async def _quota_line(mailbox: Mailbox, limit: int) -> bytes:
    octets, _ = await mailbox.usage()
    return b'* QUOTA "" (STORAGE %d %d)\r\n' % (kibibytes_used(octets), limit // 1024)


async def getquotaroot(session: ImapSession, command: MailboxCommand) -> Response:
    mailbox = mailbox_of(session)
    folder = await mailbox.folder(command.mailbox)  # NOT_FOUND -> NO [NONEXISTENT]
    name = mailbox_name(folder.name, utf8_on(session))
    limit = mailbox.quota_limit()
    if limit is None:
        await session.send(b"* QUOTAROOT %s\r\n" % name)
    else:
        line = await _quota_line(mailbox, limit)
        await session.send(b'* QUOTAROOT %s ""\r\n' % name + line)
    return Response("OK", "Getquotaroot completed")


async def getquota(session: ImapSession, command: QuotaRoot) -> Response:
    mailbox = mailbox_of(session)
    limit = mailbox.quota_limit()
    if command.root != ROOT or limit is None:
        raise no("No such quota root", "NONEXISTENT")
    await session.send(await _quota_line(mailbox, limit))
    return Response("OK", "Getquota completed")


async def setquota(session: ImapSession, command: SetQuota) -> Response:
    raise no("Quotas are set by the administrator", "NOPERM")
