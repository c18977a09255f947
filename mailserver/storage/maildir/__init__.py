"""Maildir implementation of the store, laid out exactly as Dovecot/Courier do
(Maildir++ folders, ``dovecot-uidlist``, ``dovecot-keywords``), so either
server can take over the other's mail with UIDs and keywords intact."""

from mailserver.storage.maildir.folder import MaildirFolder
from mailserver.storage.maildir.mailbox import MaildirMailbox
from mailserver.storage.maildir.store import MaildirStore

__all__ = ["MaildirFolder", "MaildirMailbox", "MaildirStore"]
