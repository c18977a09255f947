"""Entry point of the maildir store: ``root/<user>/`` is each user's maildir."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path

from mailserver.events import Event, EventBus, Subscription, Topic
from mailserver.storage.base import MailStore
from mailserver.storage.errors import ErrorKind, StorageError
from mailserver.storage.maildir import io, names
from mailserver.storage.maildir.mailbox import (
    MaildirMailbox,
    open_mailbox_blocking,
    remove_tree,
)
from mailserver.storage.maildir.quota import QuotaFunc
from mailserver.storage.maildir.watch import FolderWatcher
from mailserver.storage.model import INBOX

#: RFC 6154 (and RFC 8457 \Important) attributes are flag-like atoms.
_ATTRIBUTE = re.compile(r"\\[A-Za-z][A-Za-z0-9_-]*")


def check_default_folders(
    folders: Sequence[tuple[str, str | None]],
) -> tuple[tuple[str, str | None], ...]:
    """Canonical names and sane attributes, or ValueError naming the bad entry."""
    result: list[tuple[str, str | None]] = []
    for name, attribute in folders:
        try:
            canonical = names.canonical(name, for_create=True)
            if canonical != INBOX:
                names.to_dir(canonical)  # too long, or not encodable
        except StorageError as exc:
            raise ValueError(f"default folder {name!r}: {exc.message}") from None
        if canonical == INBOX or any(canonical == seen for seen, _ in result):
            raise ValueError(f"default folder {name!r} is INBOX or listed twice")
        if attribute is not None and not _ATTRIBUTE.fullmatch(attribute):
            raise ValueError(f"default folder {name!r}: bad special-use attribute {attribute!r}")
        result.append((canonical, attribute))
    return tuple(result)


class MaildirStore(MailStore):
    """Maps users to maildirs. Mailbox (and so Folder) objects are shared per
    process, which is how sessions on one folder see each other's changes.

    ``quota(user)`` gives a user's storage limit in octets (None: unlimited);
    appends and copies past it fail with OVER_QUOTA before anything is
    written. ``default_folders`` are (name, RFC 6154 special-use attribute or
    None) pairs created and subscribed, with INBOX, when a user's mailbox is
    first created. Both are checked here, so a bad configuration fails at start.
    With ``events``, folder changes are announced as ``Topic.MAILBOX`` and
    those announced by other processes wake the sessions of this one.
    """

    def __init__(
        self,
        root: Path,
        quota: QuotaFunc | None = None,
        default_folders: Sequence[tuple[str, str | None]] = (),
        events: EventBus | None = None,
    ) -> None:
        self.root = Path(root)
        self.events = events
        #: inotify on the folders sessions listen to: changes by other programs.
        self.watcher = FolderWatcher()
        #: Our subscription to other processes' folder changes, held only while
        #: some session here listens to a folder: otherwise every delivery would
        #: be announced to every worker for nothing (JSON out, through the
        #: supervisor, JSON in: about 7% of the SMTP event loop with two workers).
        self._elsewhere: Subscription | None = None
        if events is not None:
            self.watcher.on_listened = self._listen_elsewhere
        self.quota = quota
        self.default_folders = check_default_folders(default_folders)
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
            mailbox = open_mailbox_blocking(
                user, self.root / user, self.quota, self.default_folders
            )
            mailbox.events = self.events
            mailbox.watcher = self.watcher
            self._mailboxes[user] = mailbox
            return mailbox

    def _listen_elsewhere(self, listening: bool) -> None:
        """Subscribe to ``Topic.MAILBOX`` while sessions listen (see ``_elsewhere``).

        Between a first SELECT here and the other processes hearing of the new
        interest (a round trip through the supervisor), their changes are still
        seen: by inotify on the folder and at the sessions' next poll."""
        assert self.events is not None
        if listening and self._elsewhere is None:
            self._elsewhere = self.events.subscribe(Topic.MAILBOX, self._changed_elsewhere)
        elif not listening and self._elsewhere is not None:
            self._elsewhere.close()
            self._elsewhere = None

    def _changed_elsewhere(self, event: Event) -> None:
        """A folder changed in another process (a ``Topic.MAILBOX`` event): if this
        process has it open, its sessions (IDLE, the untagged updates of a
        selected folder) look at the disk again now rather than at their next poll."""
        if event.origin == os.getpid():
            return
        user, name = event.data.get("user"), event.data.get("folder")
        if not isinstance(user, str) or not isinstance(name, str):
            return
        mailbox = self._mailboxes.get(user)
        if mailbox is not None:
            mailbox.changed_elsewhere(name)

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
