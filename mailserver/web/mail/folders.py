"""The user's folders as the web pages need them: ordered, with unread counts."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from mailserver.storage import INBOX, SEEN, ErrorKind, Folder, Mailbox, StorageError
from mailserver.web.keys import SERVICES


@dataclass(frozen=True)
class FolderEntry:
    name: str
    #: RFC 6154 attribute (``\\Sent`` ...) or "".
    special: str
    total: int
    unread: int

    @property
    def label(self) -> str:
        return "Inbox" if self.name == INBOX else self.name


#: Order of the special folders in the folder list, after INBOX.
_ORDER = ("\\Drafts", "\\Sent", "\\Archive", "\\Junk", "\\Trash")


async def mailbox_of(request: web.Request, user: str) -> Mailbox:
    return await request.app[SERVICES].store.mailbox(user)


async def open_folder(mailbox: Mailbox, name: str) -> Folder:
    """The folder, or 404 (a user can only ever name folders of their own mailbox)."""
    try:
        return await mailbox.folder(name or INBOX)
    except StorageError as exc:
        if exc.kind in (ErrorKind.NOT_FOUND, ErrorKind.INVALID_NAME):
            raise web.HTTPNotFound(text="No such folder.\n") from None
        raise


async def read_message(folder: Folder, uid: int) -> bytes:
    """The stored message, or 404 once it is gone (moved, expunged by another client)."""
    try:
        return await folder.read(uid)
    except StorageError as exc:
        if exc.kind in (ErrorKind.EXPUNGED, ErrorKind.NOT_FOUND):
            raise web.HTTPNotFound(text="This message no longer exists.\n") from None
        raise


async def folder_entries(mailbox: Mailbox) -> list[FolderEntry]:
    """Every folder with its counts: INBOX, the special ones, then the rest by name."""
    special = await mailbox.special_use()
    entries = []
    for name in await mailbox.list_folders():
        try:
            snapshot = await (await mailbox.folder(name)).snapshot()
        except StorageError:
            continue  # deleted (or not selectable) while we looked
        unread = sum(1 for info in snapshot.messages if SEEN not in info.flags)
        entries.append(FolderEntry(name, special.get(name, ""), len(snapshot.messages), unread))

    def order(entry: FolderEntry) -> tuple[int, str]:
        if entry.name == INBOX:
            return (0, "")
        if entry.special in _ORDER:
            return (1 + _ORDER.index(entry.special), "")
        return (10, entry.name.lower())

    return sorted(entries, key=order)


async def special_folder(request: web.Request, mailbox: Mailbox, attribute: str) -> Folder:
    """The folder with special use ``attribute`` (``\\Sent``...), created if it is missing."""
    for name, use in (await mailbox.special_use()).items():
        if use == attribute:
            return await mailbox.folder(name)
    config = request.app[SERVICES].config
    name = config.special_folders.get(attribute, attribute.lstrip("\\"))
    try:
        return await mailbox.folder(name)
    except StorageError as exc:
        if exc.kind is not ErrorKind.NOT_FOUND:
            raise
    await mailbox.create_folder(name)
    await mailbox.subscribe(name)
    return await mailbox.folder(name)


async def special_name(request: web.Request, mailbox: Mailbox, attribute: str) -> str:
    for name, use in (await mailbox.special_use()).items():
        if use == attribute:
            return name
    return request.app[SERVICES].config.special_folders.get(attribute, attribute.lstrip("\\"))
