"""All folders of one user: a Maildir++ tree (INBOX at the root, ``.A.B`` for ``A/B``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from mailserver.events import EventBus
from mailserver.storage.base import Mailbox
from mailserver.storage.errors import ErrorKind, StorageError
from mailserver.storage.maildir import io, names
from mailserver.storage.maildir.folder import FOLDER_MARKER, MaildirFolder, new_uidvalidity
from mailserver.storage.maildir.modseq import FILE_NAME as MODSEQ_NAME
from mailserver.storage.maildir.modseq_journal import initial_journal
from mailserver.storage.maildir.quota import QUOTA_LOCK, QuotaFunc, QuotaGuard
from mailserver.storage.maildir.state import LOCK_FILE as UIDLIST_LOCK
from mailserver.storage.maildir.uidlist import FILE_NAME as UIDLIST_NAME
from mailserver.storage.maildir.uidlist import UidList
from mailserver.storage.maildir.watch import FolderWatcher
from mailserver.storage.model import DELIMITER, INBOX

log = logging.getLogger(__name__)

SUBSCRIPTIONS = "subscriptions"
#: In a folder's directory: its RFC 6154 special-use attributes from CREATE (USE (...)),
#: one line, space-separated; a RENAME moves it along, a DELETE removes it.
SPECIAL_USE_FILE = "mailserver-special-use"
#: Prefix of directories being deleted. Starts with ".." so no reader (Dovecot
#: included) takes it for a folder; leftovers from a crash are removed on open.
TRASH_PREFIX = "..mailserver-trash."
#: Prefix of new users' maildirs being built. User names cannot start with ".".
STAGING_PREFIX = ".mailserver-new."
T = TypeVar("T")
#: Seconds a cached INBOX is handed out without looking for it on disk again.
INBOX_RECHECK = 1.0

#: Per-user lock file for changes to the folder tree and the subscriptions.
TREE_LOCK = ".mailserver-folders.flock"
#: The largest UIDVALIDITY given to a folder of the user, across processes.
UIDVALIDITY_FILE = ".mailserver-uidvalidity"


def make_maildir(path: Path, marker: bool, uidvalidity_floor: int = 0) -> None:
    """Create ``cur``/``new``/``tmp`` (and the Maildir++ marker) durably.

    A fresh ``dovecot-uidlist`` fixes UIDVALIDITY at creation time (above
    ``uidvalidity_floor``); a fresh mod-sequence journal goes with it, so new
    folders count mod-sequences from 1.
    """
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    if marker and not (path / FOLDER_MARKER).exists():
        io.write_file(path / FOLDER_MARKER, b"")
    if not (path / UIDLIST_NAME).exists():
        # Under the folder's own lock, looking again: two processes opening a
        # maildir copied in without a uid list (two workers, two logins) must
        # not both write one, or the later would replace a list the other has
        # already numbered the messages in, under the same UIDVALIDITY.
        with io.flocked(path / UIDLIST_LOCK):
            if not (path / UIDLIST_NAME).exists():
                uidvalidity = new_uidvalidity(uidvalidity_floor)
                io.atomic_replace(path / MODSEQ_NAME, initial_journal(uidvalidity))
                io.atomic_replace(path / UIDLIST_NAME, UidList(uidvalidity).serialize().encode())
    io.fsync_dir(path)
    io.fsync_dir(path.parent)


def provision_blocking(path: Path, folders: list[str]) -> bool:
    """Build a new user's maildir with ``folders`` (all subscribed, INBOX too) aside,
    then rename it into place: a crash never leaves a mailbox that exists but
    lacks its default folders. False if someone else created it first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(path.parent)
    staging = path.parent / f"{STAGING_PREFIX}{io.unique_name(0, 0)}"
    staging.mkdir()
    try:
        make_maildir(staging, marker=False)
        for name in folders:
            sub = staging / names.to_dir(name)
            sub.mkdir()
            make_maildir(sub, marker=True)
        listed = "".join(f"{name}\n" for name in sorted({INBOX, *folders}))
        io.atomic_replace(staging / SUBSCRIPTIONS, listed.encode("utf-8"))
        os.rename(staging, path)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if path.is_dir():
            return False  # created meanwhile by another process
        raise
    io.fsync_dir(path.parent)
    return True


def remove_stale_staging(root: Path) -> None:
    """Staging trees a crash left behind (an hour old: no creation takes that long)."""
    now = time.time()
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.name.startswith(STAGING_PREFIX):
                with contextlib.suppress(OSError):
                    if now - entry.stat(follow_symlinks=False).st_mtime > 3600:
                        shutil.rmtree(entry.path, ignore_errors=True)


def remove_tree(path: Path, trash_dir: Path) -> None:
    """Delete a directory tree; the atomic rename first means a crash never
    leaves a half-deleted folder that still looks like a folder."""
    trash = trash_dir / f"{TRASH_PREFIX}{io.unique_name(0, 0)}"
    os.rename(path, trash)
    io.fsync_dir(trash_dir)
    shutil.rmtree(trash, ignore_errors=True)


class MaildirMailbox(Mailbox):
    """One user's folders. Folder objects are cached so sessions share them."""

    def __init__(
        self,
        user: str,
        path: Path,
        quota: QuotaFunc | None = None,
        default_folders: Sequence[tuple[str, str | None]] = (),
    ) -> None:
        self.user = user
        self.path = path
        self._lock = threading.Lock()
        self._folders: dict[str, MaildirFolder] = {}
        #: ``time.monotonic()`` when INBOX was last looked for on disk.
        self._inbox_checked = -INBOX_RECHECK
        self._quota = (
            None if quota is None else QuotaGuard(user, quota, self.usage, path / QUOTA_LOCK)
        )
        self._default_folders = tuple(default_folders)
        #: The event channel its folders announce changes on (set by the store).
        self.events: EventBus | None = None
        #: Watches folders sessions listen to, for other programs' changes (set by the store).
        self.watcher: FolderWatcher | None = None

    # ---------------------------------------------------------------- API

    async def folder(self, name: str) -> MaildirFolder:
        if name == INBOX:
            # Every local delivery opens INBOX: within INBOX_RECHECK of the last
            # look at the disk, the cached folder is returned without a worker-
            # thread round trip. An INBOX removed behind our back is re-created
            # by the first call after that (a delivery in between gets a
            # temporary error and is retried by its sender).
            cached = self._folders.get(INBOX)
            if (
                cached is not None
                and not cached.gone
                and time.monotonic() - self._inbox_checked < INBOX_RECHECK
            ):
                return cached
        folder = await self._run("opening folder", self._folder_blocking, name)
        if folder.name == INBOX:
            self._inbox_checked = time.monotonic()
        return folder

    async def list_folders(self) -> list[str]:
        return await self._run("listing folders", self._list_blocking)

    async def create_folder(self, name: str) -> None:
        await self._run("creating folder", self._create_blocking, name)

    async def delete_folder(self, name: str) -> None:
        gone = await self._run("deleting folder", self._delete_blocking, name)
        for folder in gone:
            folder._notify("folders")

    async def rename_folder(self, old: str, new: str) -> None:
        touched = await self._run("renaming folder", self._rename_blocking, old, new)
        for folder in touched:
            folder._notify("folders")

    async def subscriptions(self) -> set[str]:
        return await self._run("reading subscriptions", self._read_subscriptions)

    async def subscribe(self, name: str) -> None:
        await self._run("subscribing", self._change_subscription, name, True)

    async def unsubscribe(self, name: str) -> None:
        await self._run("unsubscribing", self._change_subscription, name, False)

    async def usage(self) -> tuple[int, int]:
        return await self._run("counting usage", self._usage_blocking)

    def quota_limit(self) -> int | None:
        return None if self._quota is None else self._quota.limit()

    async def special_use(self) -> dict[str, str]:
        return await self._run("listing folders", self._special_use_blocking)

    async def create_special_folder(self, name: str, attributes: Sequence[str]) -> None:
        await self._run("creating folder", self._create_blocking, name, tuple(attributes))

    # ----------------------------------------------------------- plumbing

    async def _run(self, what: str, func: Callable[..., T], *args: object) -> T:
        try:
            return await asyncio.to_thread(func, *args)
        except StorageError:
            raise
        except OSError as exc:
            raise io.storage_error(exc, what) from exc

    def _dir_of(self, name: str) -> Path:
        return self.path if name == INBOX else self.path / names.to_dir(name)

    @contextlib.contextmanager
    def _tree_locked(self) -> Iterator[None]:
        """The in-process lock, then an ``flock`` that orders folder creation,
        deletion, renaming and subscription changes across worker processes
        (a rename checks that its target is free, then renames: two processes
        must not both pass the check). Opening a folder needs only the first."""
        with self._lock, io.flocked(self.path / TREE_LOCK):
            yield

    def _last_uidvalidity(self) -> int:
        """The largest UIDVALIDITY any process gave a folder of this user (tree lock held).

        A folder deleted and re-created within one second by two different
        worker processes must still get a new UIDVALIDITY; the in-process
        memory of ``new_uidvalidity`` cannot see the other process's value.
        """
        try:
            return int((self.path / UIDVALIDITY_FILE).read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _record_uidvalidity(self, folder: Path) -> None:
        try:
            value = UidList.parse((folder / UIDLIST_NAME).read_text()).uidvalidity
        except (OSError, ValueError):
            return
        if value > self._last_uidvalidity():
            io.atomic_replace(self.path / UIDVALIDITY_FILE, f"{value}\n".encode())

    def changed_elsewhere(self, name: str) -> None:
        """Another process changed folder ``name``: wake the sessions on it here."""
        folder = self._folders.get(name)
        if folder is not None:
            folder.notify_local()

    def forget_all(self) -> None:
        """The whole mailbox was deleted: every cached folder is gone."""
        with self._lock:
            for folder in self._folders.values():
                folder.gone = True
            self._folders.clear()

    def _evict(self, name: str) -> MaildirFolder | None:
        folder = self._folders.pop(name, None)
        if folder is not None:
            folder.gone = True
        return folder

    def cleanup_blocking(self) -> None:
        """Finish deletions a crash interrupted."""
        with os.scandir(self.path) as entries:
            for entry in entries:
                if entry.name.startswith(TRASH_PREFIX) and entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)

    # ------------------------------------------------------ blocking work

    def _folder_blocking(self, name: str) -> MaildirFolder:
        name = names.canonical(name)
        path = self._dir_of(name)
        with self._lock:
            if name == INBOX and not (path / "cur").is_dir():
                make_maildir(path, marker=False)  # INBOX always exists
            if not path.is_dir():
                self._evict(name)
                raise StorageError(ErrorKind.NOT_FOUND, "folder does not exist")
            folder = self._folders.get(name)
            if folder is None:
                # Repairs a folder a crash left half-made, or one a tool made bare.
                if not all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
                    make_maildir(path, marker=name != INBOX)
                folder = MaildirFolder(name, path)
                folder.quota = self._quota
                folder.events = self.events
                folder.watcher = self.watcher
                folder.owner = self.user
                with contextlib.suppress(OSError):
                    folder.cleanup_blocking()
                self._folders[name] = folder
            return folder

    def _list_blocking(self) -> list[str]:
        result = [INBOX]
        with os.scandir(self.path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    name = names.from_dir(entry.name)
                    if name is not None:
                        result.append(name)
        return result

    def _create_blocking(self, name: str, special_use: tuple[str, ...] = ()) -> None:
        name = names.canonical(name, for_create=True)
        if name == INBOX:
            raise StorageError(ErrorKind.EXISTS, "folder already exists")
        path = self._dir_of(name)
        with self._tree_locked():
            try:
                path.mkdir()
            except FileExistsError:
                raise StorageError(ErrorKind.EXISTS, "folder already exists") from None
            if special_use:
                try:
                    # Before the maildir is complete, so no one uses it without its role.
                    data = (" ".join(special_use) + "\n").encode("ascii")
                    io.atomic_replace(path / SPECIAL_USE_FILE, data)
                except OSError:
                    shutil.rmtree(path, ignore_errors=True)  # RFC 6154 3: then no folder
                    raise
            make_maildir(path, marker=True, uidvalidity_floor=self._last_uidvalidity())
            self._record_uidvalidity(path)

    def _delete_blocking(self, name: str) -> list[MaildirFolder]:
        name = names.canonical(name)
        if name == INBOX:
            raise StorageError(ErrorKind.NO_PERMISSION, "INBOX cannot be deleted")
        path = self._dir_of(name)
        with self._tree_locked():
            if not path.is_dir():
                raise StorageError(ErrorKind.NOT_FOUND, "folder does not exist")
            # Maildir++ is flat: ".A.B" stays when ".A" goes, as RFC 3501 6.3.4 allows.
            remove_tree(path, self.path)
            folder = self._evict(name)
        return [folder] if folder is not None else []

    def _rename_blocking(self, old: str, new: str) -> list[MaildirFolder]:
        old = names.canonical(old)
        new = names.canonical(new, for_create=True)
        if new == INBOX:
            raise StorageError(ErrorKind.EXISTS, "folder already exists")
        if new == old or new.startswith(old + DELIMITER):
            raise StorageError(ErrorKind.INVALID_NAME, "cannot rename a folder into itself")
        if old == INBOX:
            return self._rename_inbox(new)
        with self._tree_locked():
            if not self._dir_of(old).is_dir():
                raise StorageError(ErrorKind.NOT_FOUND, "folder does not exist")
            moves = [(old, new)]
            prefix = old + DELIMITER
            for existing in self._list_blocking():
                if existing.startswith(prefix):
                    moves.append((existing, new + existing[len(old) :]))
            targets = [(self._dir_of(src), self._dir_of(dst)) for src, dst in moves]
            if any(dst.exists() for _, dst in targets):
                raise StorageError(ErrorKind.EXISTS, "folder already exists")
            for src_path, dst_path in targets:
                os.rename(src_path, dst_path)
            io.fsync_dir(self.path)
            evicted = [self._evict(src) for src, _ in moves]
        return [folder for folder in evicted if folder is not None]

    def _rename_inbox(self, new: str) -> list[MaildirFolder]:
        """RFC 3501 6.3.5: INBOX's messages move to a new folder, INBOX stays (empty);
        INBOX's sub-folders are not renamed."""
        inbox = self._folder_blocking(INBOX)
        self._create_blocking(new)
        target = self._folder_blocking(new)
        inbox.move_all_to_blocking(target)
        return [inbox]

    def _usage_blocking(self) -> tuple[int, int]:
        """Sums of each folder's cached snapshot: a re-scan only where something changed."""
        octets = messages = 0
        for name in self._list_blocking():
            try:
                size, count = self._folder_blocking(name).usage_blocking()
            except (StorageError, FileNotFoundError):
                continue  # deleted while we counted
            octets += size
            messages += count
        return octets, messages

    def _special_use_blocking(self) -> dict[str, str]:
        found = {
            name: attribute
            for name, attribute in self._default_folders
            if attribute is not None and self._dir_of(name).is_dir()
        }
        for name in self._list_blocking():
            if name == INBOX:
                continue
            try:
                text = (self._dir_of(name) / SPECIAL_USE_FILE).read_text("ascii", "replace")
            except (FileNotFoundError, NotADirectoryError):
                continue
            if text.strip():
                found[name] = " ".join(text.split())
        return found

    def _read_subscriptions(self) -> set[str]:
        try:
            text = (self.path / SUBSCRIPTIONS).read_text("utf-8", "replace")
        except FileNotFoundError:
            return set()
        return {line for line in text.splitlines() if line}

    def _change_subscription(self, name: str, add: bool) -> None:
        name = names.canonical(name)
        with self._tree_locked():
            current = self._read_subscriptions()
            if (name in current) == add:
                return
            if add:
                current.add(name)
            else:
                current.discard(name)
            data = "".join(f"{item}\n" for item in sorted(current)).encode("utf-8")
            io.atomic_replace(self.path / SUBSCRIPTIONS, data)


def open_mailbox_blocking(
    user: str,
    path: Path,
    quota: QuotaFunc | None = None,
    default_folders: Sequence[tuple[str, str | None]] = (),
) -> MaildirMailbox:
    """Create the user's maildir (INBOX, and the default folders) on first use and
    return its Mailbox. Default folders are made only then: one the user deletes
    later stays deleted."""
    if default_folders and not path.exists():
        provision_blocking(path, [name for name, _ in default_folders])
    make_maildir(path, marker=False)
    mailbox = MaildirMailbox(user, path, quota, default_folders)
    with contextlib.suppress(OSError):
        mailbox.cleanup_blocking()
    return mailbox
