"""Entry point of the maildir store: ``root/<user>/`` is each user's maildir."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path

from mailserver.storage.base import MailStore
from mailserver.storage.errors import ErrorKind, StorageError
from mailserver.storage.maildir import io, names
from mailserver.storage.maildir.mailbox import (
    MaildirMailbox,
    open_mailbox_blocking,
    remove_tree,
)


class MaildirStore(MailStore):
    """Maps users to maildirs. Mailbox (and so Folder) objects are shared per
    process, which is how sessions on one folder see each other's changes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._mailboxes: dict[str, MaildirMailbox] = {}

    async def mailbox(self, user: str) -> MaildirMailbox:
        names.check_user(user)
        cached = self._mailboxes.get(user)
        if cached is not None:
            return cached  # a vanished INBOX is re-created by Mailbox.folder()
        try:
            return await asyncio.to_thread(self._open_blocking, user)
        except OSError as exc:
            raise io.storage_error(exc, "opening mailbox") from exc

    def _open_blocking(self, user: str) -> MaildirMailbox:
        with self._lock:
            cached = self._mailboxes.get(user)
            if cached is not None:
                return cached
            mailbox = open_mailbox_blocking(user, self.root / user)
            self._mailboxes[user] = mailbox
            return mailbox

    async def delete_mailbox(self, user: str) -> None:
        names.check_user(user)
        try:
            await asyncio.to_thread(self._delete_blocking, user)
        except OSError as exc:
            raise io.storage_error(exc, "deleting mailbox") from exc

    def _delete_blocking(self, user: str) -> None:
        with self._lock:
            mailbox = self._mailboxes.pop(user, None)
            if mailbox is not None:
                mailbox.forget_all()
            path = self.root / user
            if not path.is_dir():
                raise StorageError(ErrorKind.NOT_FOUND, "mailbox does not exist")
            remove_tree(path, self.root)
        with contextlib.suppress(OSError):
            io.fsync_dir(self.root)
