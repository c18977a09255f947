"""MessageCache: each message is parsed at most once per process, and once per
folder across restarts.

Three layers, cheapest first:

* an in-memory LRU of :class:`ParsedMessage` shared by all folders, bounded
  by count and by approximate bytes;
* a per-folder sidecar file (``mailserver-imap-cache`` in the maildir folder,
  when the store's folder object has a ``path``) holding the parsed form of
  every message, loaded once per process; new entries are appended a moment
  after they were parsed, and the file is rewritten atomically (temp file +
  rename) when dead entries pile up -- so selecting a big folder after a
  restart does not re-read every attachment;
* a small LRU of raw message bytes, because one FETCH usually asks for
  several sections of the same message.

Entries are keyed by the maildir key (stable for a message's life) and
checked against the message size, so a stale or foreign entry is re-parsed.
Messages above :data:`THREAD_THRESHOLD` are parsed in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from mailserver.imap.mime import pool
from mailserver.imap.mime import sidecar as sidecar_file
from mailserver.imap.mime.message import ParsedMessage, Rendered, Structure
from mailserver.imap.mime.section import Section
from mailserver.storage import MessageInfo
from mailserver.storage.base import Folder

log = logging.getLogger(__name__)

SIDECAR_NAME = sidecar_file.NAME

#: Parse (and search) in a worker thread above this many octets.
THREAD_THRESHOLD = 256 * 1024
#: In-memory parsed messages, all folders together.
MAX_PARSED = 5000
MAX_PARSED_BYTES = 64 * 1024 * 1024
#: Raw message bytes kept for consecutive section fetches.
MAX_RAW = 16
MAX_RAW_BYTES = 32 * 1024 * 1024
#: Seconds to wait after a parse before rewriting the sidecar (batches writes).
FLUSH_DELAY = 2.0
#: Messages this large are read whole (and parsed) one at a time in the process:
#: twenty clients asking for the BODYSTRUCTURE of a 60 MiB message would
#: otherwise hold twenty copies. ``BODY[]`` itself streams (``imap.fetch``).
LARGE_MESSAGE = 8 * 1024 * 1024

T = TypeVar("T")


class _Lru:
    """Ordered dict with count and weight limits."""

    def __init__(self, max_items: int, max_weight: int) -> None:
        self.max_items = max_items
        self.max_weight = max_weight
        self.weight = 0
        self._items: OrderedDict[Any, tuple[Any, int]] = OrderedDict()

    def get(self, key: Any) -> Any:
        entry = self._items.get(key)
        if entry is None:
            return None
        self._items.move_to_end(key)
        return entry[0]

    def put(self, key: Any, value: Any, weight: int) -> None:
        if weight > self.max_weight:
            return
        self.discard(key)
        self._items[key] = (value, weight)
        self.weight += weight
        while len(self._items) > self.max_items or self.weight > self.max_weight:
            _, (_, dropped) = self._items.popitem(last=False)
            self.weight -= dropped

    def discard(self, key: Any) -> None:
        entry = self._items.pop(key, None)
        if entry is not None:
            self.weight -= entry[1]

    def clear(self) -> None:
        self._items.clear()
        self.weight = 0

    def shrink(self, keep: int) -> None:
        """Drop the least recently used entries until at most ``keep`` are left."""
        while len(self._items) > keep:
            _, (_, dropped) = self._items.popitem(last=False)
            self.weight -= dropped

    def __len__(self) -> int:
        return len(self._items)


_parsed = _Lru(MAX_PARSED, MAX_PARSED_BYTES)
_raw = _Lru(MAX_RAW, MAX_RAW_BYTES)
#: Parsed messages kept when the process goes quiet (:func:`release_idle`).
KEEP_WHEN_IDLE = 500


def release_idle() -> None:
    """A burst of work is over: drop the raw bytes and most parsed messages.

    Both rebuild on demand (the parsed form from the folder's sidecar file,
    without re-reading the message), while an idle server holding up to
    96 MB of them per process would not.
    """
    _raw.clear()
    _parsed.shrink(KEEP_WHEN_IDLE)
    for cache in list(MessageCache._by_folder.values()):
        cache.unload()


#: Distinguishes caches in the shared LRUs (``id()`` values get reused).
_tokens = itertools.count()


_large_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


@contextlib.asynccontextmanager
async def _whole_message_turn(size: int) -> AsyncIterator[None]:
    """Wait for the process's one turn to hold a large message whole; small ones go at once."""
    if size < LARGE_MESSAGE:
        yield
        return
    loop = asyncio.get_running_loop()
    turn = _large_turns.get(loop)
    if turn is None:
        turn = _large_turns[loop] = asyncio.Semaphore(1)
    async with turn:
        yield


async def _run(size: int, func: Callable[..., T], *args: Any) -> T:
    """Call ``func`` inline for small inputs, in a worker thread for big ones."""
    if size > THREAD_THRESHOLD:
        return await asyncio.to_thread(func, *args)
    return func(*args)


class MessageCache:
    """The parse cache of one store folder (shared by every session on it)."""

    _by_folder: weakref.WeakKeyDictionary[Folder, MessageCache] = weakref.WeakKeyDictionary()

    def __init__(self, path: Path | None) -> None:
        self._token = next(_tokens)
        self._sidecar = path / SIDECAR_NAME if path is not None else None
        #: Persisted form of the folder's messages: key -> text of the entry
        #: (:meth:`ParsedMessage.entry_text`).
        #: Kept as text (not objects) so memory stays close to the file size.
        self._stored: dict[str, str] = {}
        self._stored_bytes = 0
        #: Entries parsed since the sidecar was last written.
        self._pending: dict[str, str] = {}
        #: Keys whose entries the parse pool appended to the sidecar file and
        #: this process has not read back (they never crossed to the loop): a
        #: miss on one of them loads the file again, and so does a rewrite.
        self._in_file: set[str] = set()
        #: Entry lines in the sidecar file (duplicates and dead ones included);
        #: None when the file must be rewritten from scratch.
        self._file_lines: int | None = None
        self._loaded = self._sidecar is None
        #: The last write failed: memory holds entries the file lacks.
        self._write_failed = False
        self._load_lock = asyncio.Lock()
        self._flush_handle: asyncio.TimerHandle | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self._folder_ref: weakref.ref[Folder] | None = None

    @classmethod
    def for_folder(cls, folder: Folder) -> MessageCache:
        """The cache of this folder object, created on first use; it lives as long as the folder."""
        try:
            cache = cls._by_folder.get(folder)
        except TypeError:  # a Folder that cannot be weakly referenced: no sharing
            return cls(None)
        if cache is None:
            path = getattr(folder, "path", None)
            cache = cls(path if isinstance(path, Path) else None)
            cache._folder_ref = weakref.ref(folder)
            cls._by_folder[folder] = cache
        return cache

    def unload(self) -> None:
        """Forget the sidecar's entries held in memory when they are all on disk;
        the next miss loads the file again. (Up to 64 MB per folder otherwise
        stays for the life of the process.)"""
        if (
            self._sidecar is None
            or not self._loaded
            or self._pending
            or self._flush_handle is not None
            or self._flush_task is not None
            or self._file_lines is None  # the last write failed: memory has more
            or self._load_lock.locked()
        ):
            return
        self._stored = {}
        self._stored_bytes = 0
        self._in_file = set()  # all on disk: the next load reads them
        self._loaded = False

    # --------------------------------------------------------------- API

    async def structure(self, folder: Folder, info: MessageInfo) -> ParsedMessage:
        """The parsed message; reads it (``folder.read``) only on a cache miss."""
        key = (self._token, info.key)
        parsed: ParsedMessage | None = _parsed.get(key)
        if parsed is not None and parsed.size == info.size:
            return parsed
        parsed = await self._from_sidecar(info)
        if parsed is None:
            async with _whole_message_turn(info.size):
                data = await self._read(folder, info)
                parsed = await self._parse(info, data)
                del data
        _parsed.put(key, parsed, parsed.weight())
        return parsed

    async def prefetch(
        self,
        folder: Folder,
        infos: Iterable[MessageInfo],
        *,
        pooled: bool = False,
        here: bool = False,
        paths: dict[int, str] | None = None,
        rendered: dict[int, Structure] | None = None,
    ) -> None:
        """Parse those of ``infos`` not cached yet, reading their files in one go.

        A cold ``FETCH 1:* (ENVELOPE)`` of a big folder otherwise pays one
        worker-thread round trip per message, which cost more than reading
        the file. Messages expunged meanwhile are skipped (FETCH notices).
        Large ones (:data:`LARGE_MESSAGE`) are left to :meth:`structure`, which
        holds them whole one at a time, not a batch of them at once.
        ``pooled``: parse them in the process pool (:mod:`.pool`) when the
        folder has message files (``paths``, if the caller has them already);
        what it cannot parse is parsed here. The pool's answers go to
        ``rendered`` (by UID) instead of the parse cache: the pool stored the
        whole parse in the sidecar file. The other parses go to ``rendered``
        too (and to the parse cache), so the FETCH's writer finds every
        message of the batch there without asking the cache again.
        ``here`` (with ``pooled``): do what a pool helper does, in a thread of
        this process (the FETCH's writer would otherwise wait for the pool):
        the same file reads and sidecar appends, none of the parse cache's
        bookkeeping.
        """
        missing: list[MessageInfo] = []
        for info in infos:
            if info.size >= LARGE_MESSAGE:
                continue
            key = (self._token, info.key)
            parsed: ParsedMessage | None = _parsed.get(key)
            if parsed is not None and parsed.size == info.size:
                if rendered is not None:
                    rendered[info.uid] = parsed
                continue
            if self._loaded and info.key not in self._stored and info.key not in self._in_file:
                missing.append(info)  # what _from_sidecar finds, without an await each
                continue
            parsed = await self._from_sidecar(info)
            if parsed is not None:
                _parsed.put(key, parsed, parsed.weight())
                if rendered is not None:
                    rendered[info.uid] = parsed
                continue
            missing.append(info)
        if missing and pooled:
            missing = await self._parse_in_pool(
                folder, missing, paths, {} if rendered is None else rendered, here
            )
        if not missing:
            return
        found = await folder.read_many(info.uid for info in missing)
        for info in missing:
            data = found.get(info.uid)
            if data is not None and len(data) == info.size:
                parsed = await self._parse(info, data)
                _parsed.put((self._token, info.key), parsed, parsed.weight())
                if rendered is not None:
                    rendered[info.uid] = parsed

    def prefetcher(
        self, folder: Folder, uids: list[int], lookup: Callable[[int], MessageInfo | None]
    ) -> Prefetcher:
        """Prepares the structures of ``uids`` batch by batch ahead of a FETCH's writer."""
        return Prefetcher(self, folder, uids, lookup)

    async def section(self, folder: Folder, info: MessageInfo, section: Section) -> bytes:
        """``BODY[section]`` of the message (empty bytes for a part that does not exist)."""
        parsed = await self.structure(folder, info)  # before the turn: it may take one
        async with _whole_message_turn(info.size):
            data = await self._read(folder, info)
            parsed = await self._matching(parsed, info, data)
            return parsed.section(data, section)

    async def contains_header(
        self, folder: Folder, info: MessageInfo, name: str, needle: str
    ) -> bool:
        """SEARCH HEADER / FROM / SUBJECT ...: decoded, case-insensitive substring."""
        parsed = await self.structure(folder, info)
        return parsed.contains_header(name, needle)

    async def contains_body(self, folder: Folder, info: MessageInfo, needle: str) -> bool:
        """SEARCH BODY: the decoded text parts contain ``needle``."""
        parsed = await self.structure(folder, info)
        async with _whole_message_turn(info.size):
            data = await self._read(folder, info)
            parsed = await self._matching(parsed, info, data)
            return await _run(len(data), parsed.contains_body, data, needle)

    async def contains_text(self, folder: Folder, info: MessageInfo, needle: str) -> bool:
        """SEARCH TEXT: header or body."""
        parsed = await self.structure(folder, info)
        if parsed.contains_header_text(needle):
            return True
        return await self.contains_body(folder, info, needle)

    async def flush(self) -> None:
        """Write what was parsed since the last write to the sidecar now."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._flush_task is not None:
            await asyncio.shield(self._flush_task)
        await self._flush_now()

    # ------------------------------------------------------------ helpers

    async def _read(self, folder: Folder, info: MessageInfo) -> bytes:
        key = (self._token, info.key)
        data: bytes | None = _raw.get(key)
        if data is not None and len(data) == info.size:
            return data
        data = await folder.read(info.uid)
        _raw.put(key, data, len(data))
        return data

    async def _parse(self, info: MessageInfo, data: bytes) -> ParsedMessage:
        parsed = await _run(len(data), ParsedMessage.parse, data)
        self._remember(info, parsed)
        return parsed

    async def _parse_in_pool(
        self,
        folder: Folder,
        infos: list[MessageInfo],
        paths: dict[int, str] | None,
        rendered: dict[int, Structure],
        here: bool = False,
    ) -> list[MessageInfo]:
        """Parse ``infos`` in the process pool (``here``: as the pool would, in a
        thread), their renderings into ``rendered``; those it could not parse
        are returned."""
        if paths is None:
            paths = await folder.message_paths(info.uid for info in infos)
        sent = [info for info in infos if info.uid in paths]
        if not sent:
            return infos
        sidecar = str(self._sidecar) if self._sidecar is not None else None
        items = [
            (paths[info.uid], info.size, info.key if _storable_key(info.key) else "")
            for info in sent
        ]
        answer: pool.Answer | None
        if here:
            answer = await asyncio.to_thread(pool.parse_batch, sidecar, items)
        else:
            answer = await pool.POOL.parse(sidecar, items)
        if answer is None:
            return infos
        results, written = answer
        left = [info for info in infos if info.uid not in paths]
        for info, result in zip(sent, results, strict=True):
            if result is None:
                left.append(info)  # gone or renamed: the ordinary path finds out which
            else:
                rendered[info.uid] = Rendered(*result)
        self._written_elsewhere(written)
        return left

    def _written_elsewhere(self, keys: list[str]) -> None:
        """The pool appended these keys' entries to the sidecar file."""
        if not keys:
            return
        # The file's newer entry wins over an older one in memory (``_pending``
        # holds only keys of ``_stored``).
        for key in self._stored.keys() & keys:
            self._drop(key)
        self._in_file.update(keys)
        if self._file_lines is not None:
            self._file_lines += len(keys)
        elif self._loaded and not self._write_failed:
            # The file was missing when loaded (the pool made it): everything
            # in memory is pending, so appending keeps the file whole.
            self._file_lines = len(keys)

    async def _matching(
        self, parsed: ParsedMessage, info: MessageInfo, data: bytes
    ) -> ParsedMessage:
        """The parse of exactly these bytes: offsets must never slice another version."""
        if parsed.size != len(data):
            parsed = await self._parse(info, data)
            _parsed.put((self._token, info.key), parsed, parsed.weight())
        return parsed

    def _remember(self, info: MessageInfo, parsed: ParsedMessage) -> None:
        if self._sidecar is None or not _storable_key(info.key):
            return
        if len(parsed.header) > sidecar_file.MAX_PERSISTED_ENTRY:
            return
        self._store(info, parsed.entry_text())

    def _store(self, info: MessageInfo, entry: str) -> None:
        """Keep a sidecar entry (:meth:`ParsedMessage.entry_text`) and schedule its write."""
        if self._sidecar is None or not _storable_key(info.key):
            return
        if self._stored_bytes + len(entry) > sidecar_file.MAX_SIDECAR_BYTES:
            return
        self._drop(info.key)
        self._stored[info.key] = entry
        self._stored_bytes += _entry_bytes(info.key, entry)
        self._pending[info.key] = entry
        self._schedule_flush()

    async def _from_sidecar(self, info: MessageInfo) -> ParsedMessage | None:
        if self._sidecar is None:
            return None
        if not self._loaded or info.key in self._in_file:
            await self._load()
        entry = self._stored.get(info.key)
        if entry is None:
            return None
        try:
            parsed = ParsedMessage.from_entry_text(entry)
        except (ValueError, TypeError, UnicodeError):
            self._drop(info.key)
            return None
        if parsed.size != info.size:
            self._drop(info.key)
            return None
        return parsed

    async def _load(self) -> None:
        """Read the sidecar file into memory (again, when the pool wrote to it);
        what memory holds wins over the file's lines."""
        assert self._sidecar is not None
        async with self._load_lock:
            if self._loaded and not self._in_file:
                return
            # Keys the pool writes from now on were not read by this load.
            self._in_file = set()
            loaded, lines = await asyncio.to_thread(_load_sidecar, self._sidecar)
            loaded.update(self._stored)
            self._stored = loaded
            self._stored_bytes = sum(_entry_bytes(k, v) for k, v in loaded.items())
            if lines is not None and self._write_failed:
                lines = None  # memory has entries the file lacks: rewrite it
            self._file_lines = lines
            self._loaded = True

    def _drop(self, key: str) -> None:
        self._in_file.discard(key)
        entry = self._stored.pop(key, None)
        self._pending.pop(key, None)
        if entry is not None:
            self._stored_bytes -= _entry_bytes(key, entry)

    def _schedule_flush(self) -> None:
        if self._flush_handle is not None or self._flush_task is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._flush_handle = loop.call_later(FLUSH_DELAY, self._start_flush)

    def flush_soon(self) -> None:
        """Write the pending entries now rather than after :data:`FLUSH_DELAY`: a
        big FETCH has just parsed them, and a session on another worker process
        (which knows only the file) may ask for the same folder next."""
        if not self._pending or self._flush_task is not None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._start_flush()

    def _start_flush(self) -> None:
        self._flush_handle = None
        self._flush_task = asyncio.ensure_future(self._flush_now())
        self._flush_task.add_done_callback(self._flush_done)

    def _flush_done(self, task: asyncio.Task[None]) -> None:
        self._flush_task = None
        if self._pending:
            self._schedule_flush()

    async def _flush_now(self) -> None:
        """Append new entries; rewrite (compact) when the file is mostly dead lines.

        Entries of messages no longer in the folder are dropped first, so an
        expunge-heavy folder compacts its sidecar on the next write.
        """
        sidecar = self._sidecar
        if sidecar is None or not self._pending:
            return
        try:
            folder = self._folder_ref() if self._folder_ref is not None else None
            if folder is not None:
                before = list(self._stored)
                try:
                    live = {m.key for m in (await folder.snapshot()).messages}
                except Exception:  # folder gone or unreadable: nothing to prune by
                    live = set(before)
                for key in before:
                    if key not in live:
                        self._drop(key)
                self._in_file &= live
            if not self._pending:
                return
            lines = self._file_lines
            live_entries = len(self._stored) + len(self._in_file)
            if lines is None or lines + len(self._pending) > 2 * live_entries + 64:
                if self._in_file:  # the pool's entries are only in the file: keep them
                    await self._load()
                entries = list(self._stored.items())
                self._pending.clear()
                await asyncio.to_thread(_rewrite_sidecar, sidecar, entries)
                self._file_lines = len(entries)
                self._write_failed = False
            else:
                pending = list(self._pending.items())
                self._pending.clear()
                if await asyncio.to_thread(_append_sidecar, sidecar, pending):
                    self._file_lines = lines + len(pending)
                else:  # gone, foreign or full: rewrite it next time
                    self._file_lines = None
        except Exception:  # a cache must never take a session down
            self._file_lines = None
            self._write_failed = True
            log.warning("could not write %s", sidecar, exc_info=True)


class Prefetcher:
    """The structures of a FETCH's messages, made ready batch by batch.

    Small FETCHes parse a batch of :data:`PREFETCH` in the process when the
    writer reaches it, as before. One that covers at least
    :data:`pool.POOL_MIN` messages hands batches of :data:`pool.BATCH` to
    the process pool, :data:`pool.AHEAD` of them unfinished at any time, so
    the pool parses ahead while the loop writes. When the writer would have
    to wait for the pool, it parses the next batch not handed out yet itself
    (and tops the pool up after each), so both cores stay busy however the
    load is spread. Nothing is started more than :data:`pool.MAX_LEAD`
    batches ahead of the writer, so memory stays bounded. Each batch looks
    up its messages when it is started, so one expunged meanwhile is skipped
    or found gone by the ordinary path.
    """

    def __init__(
        self,
        cache: MessageCache,
        folder: Folder,
        uids: list[int],
        lookup: Callable[[int], MessageInfo | None],
    ) -> None:
        self.cache = cache
        self.folder = folder
        self.uids = uids
        self.lookup = lookup
        self.pooled = len(uids) >= pool.POOL_MIN
        self.size = pool.BATCH if self.pooled else PREFETCH
        self.batches = (len(uids) + self.size - 1) // self.size
        #: Pool batches started and not yet waited for.
        self._tasks: dict[int, asyncio.Task[None]] = {}
        #: The first batch neither handed to the pool nor parsed here yet.
        self._next = 0
        #: Message files of ``uids[: self._located]``, found :data:`pool.LOCATE`
        #: at a time: a thread round trip per batch held the pool up.
        #: (by batch: uid -> file; a batch's entry goes when it is started).
        self._paths: dict[int, dict[int, str]] = {}
        self._located = 0
        self._locating = asyncio.Lock()
        #: Batches the writer parsed itself (their files are not kept).
        self._stolen: set[int] = set()
        #: Each prepared message's renderings by UID (the pool's answer, or the
        #: parse made or found here), until the writer takes them (:meth:`take`).
        self._ready: dict[int, Structure] = {}

    def take(self, uid: int) -> Structure | None:
        """The renderings of ``uid`` if its batch prepared them (once; the parse
        cache and the sidecar answer any later asking)."""
        return self._ready.pop(uid, None)

    async def ready(self, index: int) -> None:
        """Call before writing ``uids[index]``: its batch is parsed when this returns."""
        if index % self.size:
            return
        batch = index // self.size
        if not self.pooled:
            await self.cache.prefetch(self.folder, self._infos(batch), rendered=self._ready)
            return
        self._hand_out(batch)
        task = self._tasks.pop(batch, None)
        if task is None:
            return  # parsed here earlier, while waiting for the pool
        while not task.done() and self._next < min(self.batches, batch + pool.MAX_LEAD):
            stolen = self._next
            self._next += 1
            self._stolen.add(stolen)
            paths = self._paths.pop(stolen, None)
            if paths is None or self._located < min(len(self.uids), (stolen + 1) * self.size):
                paths = None  # not located yet: looked up for this batch alone
            await self.cache.prefetch(
                self.folder,
                self._infos(stolen),
                pooled=True,
                here=True,
                paths=paths,
                rendered=self._ready,
            )
            self._hand_out(batch)  # the pool may have finished batches meanwhile
        await task

    def _hand_out(self, batch: int) -> None:
        """Keep :data:`pool.AHEAD` batches in the pool's hands, within the lead."""
        busy = sum(1 for task in self._tasks.values() if not task.done())
        limit = min(self.batches, batch + pool.MAX_LEAD)
        while busy < pool.AHEAD and self._next < limit:
            self._tasks[self._next] = asyncio.ensure_future(self._pooled(self._next))
            self._next += 1
            busy += 1

    async def _pooled(self, batch: int) -> None:
        infos = self._infos(batch)
        end = min(len(self.uids), (batch + 1) * self.size)
        async with self._locating:
            if self._located < end:
                start = self._located
                chunk = self.uids[start : max(end, start + pool.LOCATE)]
                found = await self.folder.message_paths(chunk)
                for position, uid in enumerate(chunk, start):
                    path = found.get(uid)
                    if path is not None and position // self.size not in self._stolen:
                        self._paths.setdefault(position // self.size, {})[uid] = path
                self._located += len(chunk)
        paths = self._paths.pop(batch, {})
        await self.cache.prefetch(
            self.folder, infos, pooled=True, paths=paths, rendered=self._ready
        )

    def close(self) -> None:
        """The FETCH is done (or ended early): drop the batches started ahead and
        write what the writer parsed itself to the sidecar file now."""
        if self.pooled:
            self.cache.flush_soon()
        for task in self._tasks.values():
            task.cancel()
            # Retrieve a failure of a batch nobody will wait for now.
            task.add_done_callback(_quiet)
        self._tasks.clear()
        self._ready.clear()

    def _infos(self, batch: int) -> list[MessageInfo]:
        start = batch * self.size
        found = (self.lookup(uid) for uid in self.uids[start : start + self.size])
        return [info for info in found if info is not None]


#: Messages whose parse is prepared at once in the process (one file-reading
#: thread call) when a FETCH needs the MIME structure of a few hundred at most.
PREFETCH = 64


def _quiet(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()


def _entry_bytes(key: str, entry: str) -> int:
    return len(key) + len(entry) + 2


def _storable_key(key: str) -> bool:
    return bool(key) and key.isascii() and key.isprintable() and "\t" not in key


def _load_sidecar(path: Path) -> tuple[dict[str, str], int | None]:
    """(entries, line count) of a sidecar; ``({}, None)`` when missing, too big or foreign.

    A malformed line (a crash cut an append short) is skipped; the entries
    themselves are validated when used.
    """
    try:
        if path.stat().st_size > sidecar_file.MAX_SIDECAR_BYTES:
            return {}, None
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            if handle.readline().rstrip("\n") != sidecar_file.MAGIC:
                return {}, None
            entries: dict[str, str] = {}
            lines = 0
            for line in handle:
                lines += 1
                key, tab, entry = line.rstrip("\n").partition("\t")
                if tab and entry:
                    entries[key] = entry
            return entries, lines
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError):
        log.info("ignoring unreadable %s; it will be rebuilt", path)
        return {}, None


def _rewrite_sidecar(path: Path, entries: list[tuple[str, str]]) -> None:
    if not path.parent.is_dir():
        return  # folder deleted meanwhile
    tmp = path.with_name(f"{path.name}.tmp.{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(sidecar_file.MAGIC + "\n")
            handle.writelines(f"{key}\t{entry}\n" for key, entry in entries)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _append_sidecar(path: Path, entries: list[tuple[str, str]]) -> bool:
    """The entries appended the one way every writer appends (:func:`sidecar.append`:
    the parse helpers append to the same file, and so may the other workers)."""
    blob = "".join(f"{key}\t{entry}\n" for key, entry in entries).encode("utf-8", "surrogateescape")
    return sidecar_file.append(str(path), blob)
