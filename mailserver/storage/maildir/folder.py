"""The async ``Folder`` API over a maildir folder.

Blocking work runs in a worker thread; the pieces live in their own modules:
``state`` (cache and scans, reads), ``flagops`` (flags, expunge) and
``placement`` (append, copy, INBOX move). See ``state`` for the consistency model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from mailserver.events import Event, EventBus, Topic
from mailserver.storage.base import ChangeListener, Folder
from mailserver.storage.errors import ErrorKind, StorageError
from mailserver.storage.maildir import io
from mailserver.storage.maildir.flagops import FlagOps
from mailserver.storage.maildir.flags import crlf_size, split_flags, to_wire
from mailserver.storage.maildir.placement import Arrival, Placement
from mailserver.storage.maildir.quota import QuotaGuard
from mailserver.storage.maildir.state import FOLDER_MARKER, new_uidvalidity
from mailserver.storage.maildir.watch import FolderWatcher
from mailserver.storage.maildir.writer import writer
from mailserver.storage.model import FlagMode, Snapshot
from mailserver.storage.stream import CHUNK, MessageStream

__all__ = ["FOLDER_MARKER", "MaildirFolder", "new_uidvalidity"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Messages up to this size are read whole when opened (one thread call, one
#: buffer no larger than a streamed chunk); larger ones are streamed.
SMALL_MESSAGE = CHUNK


class MaildirFolder(FlagOps, Placement, Folder):
    """A maildir folder; one object per (user, folder) per process, shared by sessions."""

    def __init__(self, name: str, path: Path) -> None:
        super().__init__(name, path)
        self._listeners: list[ChangeListener] = []
        #: The owner's storage limit; set by the mailbox that opened the folder.
        self.quota: QuotaGuard | None = None
        #: (snapshot, octets, messages) of the last usage count.
        self._usage: tuple[Snapshot, int, int] | None = None
        #: Where changes are announced to other processes (set by the mailbox).
        self.events: EventBus | None = None
        #: The user whose folder this is, for those announcements.
        self.owner = ""
        #: Watches the directories while sessions listen (changes by other programs).
        self.watcher: FolderWatcher | None = None
        #: ``time.monotonic()`` when the sessions were last woken (the watcher
        #: skips changes they were already told about).
        self.last_wake = 0.0

    # ------------------------------------------------------------------ API

    async def snapshot(self, claim_recent: bool = False) -> Snapshot:
        return await self._run("reading folder", self._snapshot_blocking, claim_recent)

    async def read(self, uid: int) -> bytes:
        return await self._run("reading message", self._read_blocking, uid)

    async def read_many(self, uids: Iterable[int]) -> dict[int, bytes]:
        return await self._run("reading messages", self._read_many_blocking, list(uids))

    def _read_many_blocking(self, uids: list[int]) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        for uid in uids:
            try:
                out[uid] = self._read_blocking(uid)
            except StorageError as exc:
                if exc.kind is not ErrorKind.EXPUNGED:
                    raise
        return out

    async def message_paths(self, uids: Iterable[int]) -> dict[int, str]:
        return await self._run("locating messages", self._message_paths_blocking, list(uids))

    async def open_message(self, uid: int) -> MessageStream:
        return await self._run("reading message", self._open_stream_blocking, uid)

    def _open_stream_blocking(self, uid: int) -> MessageStream:
        handle = self._open_blocking(uid)
        try:
            # Most mail fits in one chunk: read it whole here, in this one thread
            # call, instead of a call to size it, one per chunk and one to see the
            # end (a POP3 "RETR all" of 30 messages paid 90 round trips for that).
            head = handle.read(SMALL_MESSAGE + 1)
            if len(head) <= SMALL_MESSAGE:
                handle.close()
                return MessageStream.from_bytes(to_wire(head))
            return MessageStream(handle)  # counts the exact size: a read of the file
        except BaseException:
            handle.close()
            raise

    async def append(
        self,
        data: bytes,
        flags: Iterable[str] = (),
        internal_date: float | None = None,
    ) -> int:
        flag_list = list(flags)
        split_flags(flag_list)  # refuse bad flags before touching the disk
        async with self._quota_turn(crlf_size(data)):
            uid = await self._run(
                "storing message", self._append_blocking, data, flag_list, internal_date
            )
        self._notify("messages")
        return uid

    async def append_file(
        self,
        path: Path,
        *,
        offset: int = 0,
        prefix: bytes = b"",
        flags: Iterable[str] = (),
        internal_date: float | None = None,
    ) -> int:
        flag_list = list(flags)
        split_flags(flag_list)
        # Copied (and measured) before the quota turn: a 60 MiB copy must not hold
        # up every other delivery to this user while it runs.
        staged = await self._run(
            "storing message", self._stage_file_blocking, prefix, path, offset, internal_date
        )
        handed_over = False
        try:
            async with self._quota_turn(staged.crlf_size):
                # From here on _place_staged_blocking owns the file: it renames it
                # into the folder or removes it, even if this task is cancelled.
                handed_over = True
                uid = await self._run(
                    "storing message", self._place_staged_blocking, staged, flag_list
                )
        finally:
            if not handed_over:  # refused at the quota: nobody else will remove it
                staged.discard()
        self._notify("messages")
        return uid

    async def deliver(self, data: bytes) -> None:
        """Durable in ``new/``, numbered by the next reader (``placement``)."""
        async with self._quota_turn(crlf_size(data)):
            await writer().deliver(self, data)  # batched with the process's others
        self._notify("messages")

    async def deliver_file(self, path: Path, *, offset: int = 0, prefix: bytes = b"") -> None:
        staged = await self._run(
            "storing message", self._stage_file_blocking, prefix, path, offset, None
        )
        handed_over = False
        try:
            async with self._quota_turn(staged.crlf_size):
                handed_over = True  # the writer renames or removes it
                arrival = Arrival(staged.tmp, staged.base, [], staged.crlf_size, staged.mtime)
                await writer().place(self, arrival)  # batched with the process's others
        finally:
            if not handed_over:
                staged.discard()
        self._notify("messages")

    async def store_flags(
        self,
        uids: Iterable[int],
        flags: Iterable[str],
        mode: FlagMode,
        *,
        unchanged_since: int | None = None,
    ) -> dict[int, frozenset[str]]:
        modified, _ = await self.store_flags_conditional(uids, flags, mode, unchanged_since)
        return modified

    async def store_flags_conditional(
        self,
        uids: Iterable[int],
        flags: Iterable[str],
        mode: FlagMode,
        unchanged_since: int | None,
    ) -> tuple[dict[int, frozenset[str]], list[int]]:
        flag_list = list(flags)
        split_flags(flag_list)
        result = await self._run(
            "changing flags",
            self._store_blocking,
            sorted(set(uids)),
            flag_list,
            mode,
            unchanged_since,
        )
        self._notify("flags")
        return result

    async def recent_uids(self) -> frozenset[int]:
        return await self._run("reading folder", self._recent_uids_blocking)

    async def expunged_since(self, modseq: int) -> list[int] | None:
        return await self._run("reading folder", self._expunged_since_blocking, modseq)

    async def expunge(self, uids: Iterable[int] | None = None) -> list[int]:
        wanted = None if uids is None else set(uids)
        removed = await self._run("expunging", self._expunge_blocking, wanted)
        if removed:
            self._notify("expunge")
        return removed

    async def copy_to(self, uids: Iterable[int], target: Folder) -> dict[int, int]:
        return await self._copy(uids, target, moving=False)

    async def move_to(self, uids: Iterable[int], target: Folder) -> dict[int, int]:
        mapping = await self._copy(uids, target, moving=True)
        await self.expunge(list(mapping))
        return mapping

    async def _copy(self, uids: Iterable[int], target: Folder, moving: bool) -> dict[int, int]:
        wanted = sorted(set(uids))
        if not isinstance(target, MaildirFolder):
            return await self._copy_generic(wanted, target)
        sources = await self._run("copying", self._copy_sources, wanted)
        # A move between one user's folders leaves their usage as it was, so it
        # is not refused at the quota: a user over quota can still move mail to
        # Trash, which is how Thunderbird and Outlook delete.
        same_owner = moving and target.quota is self.quota
        octets = sum(source.crlf_size for source in sources)
        async with contextlib.nullcontext() if same_owner else target._quota_turn(octets):
            mapping = await target._run("copying", target._copy_in, sources, self)
        if mapping:
            target._notify("messages")
        return mapping

    def add_listener(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)
        if len(self._listeners) == 1 and self.watcher is not None:
            self.watcher.watch(self)

    def remove_listener(self, listener: ChangeListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)
        if not self._listeners and self.watcher is not None:
            self.watcher.unwatch(self)

    def _quota_turn(self, octets: int) -> contextlib.AbstractAsyncContextManager[None]:
        """OVER_QUOTA before anything is written if ``octets`` more would not fit."""
        if self.quota is None:
            return contextlib.nullcontext()
        return self.quota.reserve(octets)

    def usage_blocking(self) -> tuple[int, int]:
        """(CRLF octets, messages) held; recounted only when the snapshot changed."""
        snap = self._snapshot_blocking(False)
        cached = self._usage
        if cached is None or cached[0] is not snap:
            cached = (snap, sum(info.size for info in snap.messages), len(snap.messages))
            self._usage = cached
        return cached[1], cached[2]

    async def _run(self, what: str, func: Callable[..., T], *args: object) -> T:
        """Run blocking work in a thread; OS errors become user-safe StorageErrors."""
        return await asyncio.to_thread(self._guarded, what, func, *args)

    def _guarded(self, what: str, func: Callable[..., T], *args: object) -> T:
        try:
            return func(*args)
        except StorageError:
            raise
        except FileNotFoundError as exc:
            if self.gone or not os.path.isdir(self._root):
                raise StorageError(ErrorKind.NOT_FOUND, "folder does not exist") from exc
            raise io.storage_error(exc, what) from exc
        except OSError as exc:
            raise io.storage_error(exc, what) from exc

    def _notify(self, change: str) -> None:
        """Tell sessions (on the event loop) that this process changed the folder,
        and other processes, through the event channel, if any of them listens."""
        self.notify_local()
        events = self.events
        if events is not None and events.wants(Topic.MAILBOX):
            events.publish(
                Event(Topic.MAILBOX, {"user": self.owner, "folder": self.name, "change": change})
            )

    def notify_local(self) -> None:
        """Wake this process's sessions on the folder (another process changed it:
        their next snapshot sees the change on disk)."""
        self.last_wake = time.monotonic()
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("folder change listener failed")

    async def _copy_generic(self, uids: list[int], target: Folder) -> dict[int, int]:
        """COPY into a folder of another store implementation: read and append."""
        snap = await self.snapshot()
        mapping: dict[int, int] = {}
        for uid in uids:
            info = snap.find(uid)
            if info is None:
                continue
            try:
                data = await self.read(uid)
            except StorageError as exc:
                if exc.kind is ErrorKind.EXPUNGED:
                    continue
                raise
            mapping[uid] = await target.append(data, info.flags, info.internal_date)
        return mapping
