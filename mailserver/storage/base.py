"""The store API that SMTP, POP3 and IMAP share.

Every method is a coroutine: the implementation does its blocking file I/O in
a worker thread, so a slow disk never stalls other sessions. Every mutating
call returns only once its effect is durable (fsync'd), because the protocol
acknowledges right after it. Folder names use ``/`` as hierarchy delimiter and
are Unicode; ``INBOX`` is matched case-insensitively and always exists.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from mailserver.storage.errors import ErrorKind, StorageError
from mailserver.storage.model import FlagMode, Snapshot
from mailserver.storage.stream import MessageStream

ChangeListener = Callable[[], None]


class Folder(ABC):
    """One maildir folder. Objects are shared by every session of this process."""

    name: str

    @abstractmethod
    async def snapshot(self, claim_recent: bool = False) -> Snapshot:
        """Current contents, re-scanning the disk if another process changed it.

        With ``claim_recent`` the messages no session has seen yet become
        ``\\Recent`` for this caller only (RFC 3501 2.3.2) and are returned in
        ``Snapshot.recent``; later callers never get them again.
        """

    @abstractmethod
    async def read(self, uid: int) -> bytes:
        """The whole message with CRLF line ends; ``StorageError(EXPUNGED)`` if gone."""

    async def read_many(self, uids: Iterable[int]) -> dict[int, bytes]:
        """Several messages at once, by UID; expunged ones are left out.

        For callers that will look at many messages in a row (the first
        ENVELOPE of a big folder): an implementation reads them all in one
        worker-thread call instead of one per message.
        """
        out: dict[int, bytes] = {}
        for uid in uids:
            try:
                out[uid] = await self.read(uid)
            except StorageError as exc:
                if exc.kind is not ErrorKind.EXPUNGED:
                    raise
        return out

    async def message_paths(self, uids: Iterable[int]) -> dict[int, str]:
        """Current file of each message, by UID, for readers in another process.

        A file's content with its line ends made CRLF is what :meth:`read`
        returns -- as long as the message keeps that file name: a reader must
        treat a missing file (renamed by a flag change, expunged) or one of
        another size as "ask :meth:`read`". Stores without message files
        return an empty dict (the default).
        """
        del uids
        return {}

    async def open_message(self, uid: int) -> MessageStream:
        """The message for reading in chunks (CRLF line ends, exact size), for
        downloads too large to hold in memory; ``StorageError(EXPUNGED)`` if gone.
        The caller closes it. This default reads it whole; stores override it."""
        return MessageStream.from_bytes(await self.read(uid))

    @abstractmethod
    async def append(
        self,
        data: bytes,
        flags: Iterable[str] = (),
        internal_date: float | None = None,
    ) -> int:
        """Store a new message durably and return its UID.

        ``data`` may use CRLF or LF line ends. A message with no flags lands in
        ``new/`` (it is "recent"); one with flags (an IMAP APPEND of a draft,
        say) lands in ``cur/``.
        """

    async def append_file(
        self,
        path: Path,
        *,
        offset: int = 0,
        prefix: bytes = b"",
        flags: Iterable[str] = (),
        internal_date: float | None = None,
    ) -> int:
        """:meth:`append` of ``prefix`` followed by the file at ``path`` from ``offset``.

        For messages too large to hold in memory (a spooled SMTP DATA or IMAP
        APPEND): the store copies the file in chunks and never holds the whole
        message. ``path`` is left where it is; the caller removes it. This
        default reads the file into memory; stores override it.
        """
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = prefix + handle.read()
        return await self.append(data, flags, internal_date)

    async def deliver(self, data: bytes) -> None:
        """Store a new message without flags durably, for a delivery nobody waits
        to number (SMTP, webmail's send, the queue's local retries).

        On return the message is on disk as :meth:`append` would leave it, but
        it may get its UID only when the folder is next read (a maildir numbers
        files in ``new/`` at its next scan, as Dovecot does after Postfix's
        delivery). This default simply appends; stores override it."""
        await self.append(data)

    async def deliver_file(self, path: Path, *, offset: int = 0, prefix: bytes = b"") -> None:
        """:meth:`deliver` of ``prefix`` followed by the file at ``path`` from
        ``offset``, copied in chunks (see :meth:`append_file`)."""
        await self.append_file(path, offset=offset, prefix=prefix)

    @abstractmethod
    async def store_flags(
        self,
        uids: Iterable[int],
        flags: Iterable[str],
        mode: FlagMode,
        *,
        unchanged_since: int | None = None,
    ) -> dict[int, frozenset[str]]:
        """Change flags; returns the new flags of each message that still exists.

        With ``unchanged_since`` (RFC 7162 UNCHANGEDSINCE) only messages whose
        mod-sequence is at most that value are changed; the others are simply
        absent from the result (``store_flags_conditional`` names them).
        Setting flags a message already has changes nothing, so its
        mod-sequence stays; every real change gives it a new one.
        """

    async def store_flags_conditional(
        self,
        uids: Iterable[int],
        flags: Iterable[str],
        mode: FlagMode,
        unchanged_since: int | None,
    ) -> tuple[dict[int, frozenset[str]], list[int]]:
        """``store_flags`` that also reports which UIDs failed the UNCHANGEDSINCE test.

        Returns (new flags of each message that passed and still exists, UIDs
        whose mod-sequence was above ``unchanged_since``, ascending). A store
        without mod-sequences cannot test the condition.
        """
        raise NotImplementedError("this store does not keep mod-sequences")

    async def recent_uids(self) -> frozenset[int]:
        """Messages that no session has claimed as ``\\Recent`` yet (EXAMINE shows them
        as ``\\Recent`` without claiming, RFC 3501 2.3.2). The default store has none."""
        return frozenset()

    async def expunged_since(self, modseq: int) -> list[int] | None:
        """UIDs expunged after ``modseq`` (RFC 7162 QRESYNC VANISHED (EARLIER)), ascending.

        None when the store's expunge history does not reach back that far (it
        is bounded): the caller then treats every UID it cannot find as
        vanished, which RFC 7162 3.2.5.1 permits. The default keeps no history.
        """
        return None

    @abstractmethod
    async def expunge(self, uids: Iterable[int] | None = None) -> list[int]:
        """Remove the given messages (all ``\\Deleted`` ones when None); return the UIDs removed."""

    @abstractmethod
    async def copy_to(self, uids: Iterable[int], target: Folder) -> dict[int, int]:
        """Copy messages with their flags; returns source UID -> new UID in ``target``."""

    async def move_to(self, uids: Iterable[int], target: Folder) -> dict[int, int]:
        """Copy, then expunge the originals that were copied; returns as :meth:`copy_to`.

        If the copy fails (disk, quota) the originals are untouched.
        """
        mapping = await self.copy_to(uids, target)
        await self.expunge(list(mapping))
        return mapping

    @abstractmethod
    def add_listener(self, listener: ChangeListener) -> None:
        """Call ``listener`` (on the event loop) after any change made through this process."""

    @abstractmethod
    def remove_listener(self, listener: ChangeListener) -> None: ...


class Mailbox(ABC):
    """All folders of one user."""

    user: str

    @abstractmethod
    async def folder(self, name: str) -> Folder:
        """Open a folder; ``StorageError(NOT_FOUND)`` if it does not exist."""

    @abstractmethod
    async def list_folders(self) -> list[str]:
        """Names of every existing folder, INBOX included, in no particular order."""

    @abstractmethod
    async def create_folder(self, name: str) -> None:
        """Create a folder (and nothing else); EXISTS / INVALID_NAME errors."""

    @abstractmethod
    async def delete_folder(self, name: str) -> None:
        """Delete a folder and its messages; INBOX cannot be deleted (NO_PERMISSION)."""

    @abstractmethod
    async def rename_folder(self, old: str, new: str) -> None:
        """Rename a folder and its sub-folders; renaming INBOX moves its messages
        into the new folder and leaves INBOX empty (RFC 3501 6.3.5)."""

    @abstractmethod
    async def subscriptions(self) -> set[str]: ...

    @abstractmethod
    async def subscribe(self, name: str) -> None: ...

    @abstractmethod
    async def unsubscribe(self, name: str) -> None: ...

    async def usage(self) -> tuple[int, int]:
        """(octets, messages) held in all folders, sizes as ``MessageInfo.size``
        (RFC 9208 STORAGE and MESSAGE usage). This default opens every folder;
        stores override it with something cheaper."""
        octets = messages = 0
        for name in await self.list_folders():
            try:
                snap = await (await self.folder(name)).snapshot()
            except StorageError as exc:
                if exc.kind is ErrorKind.NOT_FOUND:
                    continue  # deleted while we counted
                raise
            octets += sum(info.size for info in snap.messages)
            messages += len(snap.messages)
        return octets, messages

    def quota_limit(self) -> int | None:
        """The user's storage limit in octets (RFC 9208 STORAGE), None for none.

        When set, ``Folder.append`` and ``copy_to`` refuse with
        ``StorageError(OVER_QUOTA)`` before writing a message that would take
        ``usage()`` past it; reaching it exactly is allowed.
        """
        return None

    async def special_use(self) -> dict[str, str]:
        """Folder name -> RFC 6154 special-use attribute (``\\Sent`` ...), for
        existing folders only. Empty when the store assigns none."""
        return {}

    async def create_special_folder(self, name: str, attributes: Sequence[str]) -> None:
        """Create a folder with RFC 6154 special-use ``attributes`` (``\\Drafts`` ...),
        kept with the folder through renames; NO_PERMISSION where the store
        cannot remember them (then nothing is created)."""
        raise StorageError(ErrorKind.NO_PERMISSION, "special-use folders not supported")


class MailStore(ABC):
    """Entry point: maps user names to mailboxes."""

    @abstractmethod
    async def mailbox(self, user: str) -> Mailbox:
        """The user's mailbox, created (with INBOX) on first use."""

    @abstractmethod
    async def delete_mailbox(self, user: str) -> None:
        """Remove all of a user's mail (``lab remove --purge``)."""
