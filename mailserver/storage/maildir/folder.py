"""One maildir folder: messages in ``new/`` and ``cur/``, UIDs in ``dovecot-uidlist``.

Consistency model
-----------------
* Every change to the uid list, every scan and every rename within the
  folder happens under an in-process ``threading.Lock`` *and* an ``flock``
  on ``.mailserver-uidlist.flock``, so several server processes can share a
  maildir. A plain MDA may still deliver into ``new/`` without any lock: the
  maildir protocol makes that safe, and the next scan gives the file a UID.
* The disk is the truth; memory is a cache. A scan is skipped only when the
  ``stat`` of ``new/``, ``cur/`` and the uid list is unchanged *and* the
  directories were last modified more than ``DIRTY_WINDOW_NS`` before we
  looked: file-system timestamps are coarse, so a change in the same tick
  as our ``stat`` would otherwise go unnoticed (Dovecot has the same rule).
  Our own changes simply mark the cache dirty.
* Order of durable steps: message file fsync'd, renamed into place, directory
  fsync'd, and only then the UID recorded. A crash in between leaves a file
  without a UID, which the next scan assigns; it never loses a message. An
  expunge unlinks before it rewrites the list, so a crash there only leaves
  a stale line, dropped at the next scan. UIDs come from ``N`` in the list,
  which only grows, so none is handed out twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from mailserver.storage.base import ChangeListener, Folder
from mailserver.storage.errors import ErrorKind, StorageError
from mailserver.storage.maildir import io, keywords, uidlist
from mailserver.storage.maildir.flags import (
    FileName,
    base_sizes,
    change_letters,
    crlf_size,
    flags_of,
    split_flags,
    to_disk,
    to_wire,
)
from mailserver.storage.maildir.keywords import Keywords
from mailserver.storage.maildir.uidlist import UidList, UidListError
from mailserver.storage.model import DELETED, FlagMode, MessageInfo, Snapshot

log = logging.getLogger(__name__)

#: Directories modified this recently are re-listed on every snapshot.
DIRTY_WINDOW_NS = 1_000_000_000
#: Our cross-process lock. Not ``dovecot-uidlist.lock``: Dovecot uses that
#: name as a dotlock, and an flock'd file lingering there would stall Dovecot.
LOCK_FILE = ".mailserver-uidlist.flock"
#: Marker file Courier and Dovecot put in every Maildir++ sub-folder.
FOLDER_MARKER = "maildirfolder"
#: Files in ``tmp/`` older than this are leftovers of a crash (Dovecot's rule).
TMP_MAX_AGE = 36 * 3600

Sig = tuple[int, int, int]
T = TypeVar("T")


def _sig(st: os.stat_result) -> Sig:
    return (st.st_mtime_ns, st.st_ino, st.st_size)


def _path_sig(path: Path) -> Sig | None:
    try:
        return _sig(os.stat(path))
    except FileNotFoundError:
        return None


_uidvalidity_lock = threading.Lock()
_last_uidvalidity = 0


def new_uidvalidity(floor: int = 0) -> int:
    """Current time, but strictly above ``floor`` and every value this process gave.

    A folder deleted and re-created within one second must not reuse its old
    UIDVALIDITY, or clients would trust cached UIDs that now mean other mail.
    """
    global _last_uidvalidity
    with _uidvalidity_lock:
        value = max(int(time.time()), floor + 1, _last_uidvalidity + 1)
        _last_uidvalidity = value
        return value


@dataclass(frozen=True, slots=True)
class _CopySource:
    uid: int
    path: str
    flags: frozenset[str]
    crlf_size: int
    mtime: float


@dataclass(frozen=True, slots=True)
class _Placed:
    """A message file just renamed into this folder, waiting for its UID."""

    base: str
    rel: str
    crlf_size: int
    mtime: float


class MaildirFolder(Folder):
    """A maildir folder; one object per (user, folder) per process, shared by sessions."""

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self._root = os.fspath(path)
        #: Set when the folder was deleted or renamed away through this process.
        self.gone = False
        self._tmp = path / "tmp"
        self._uidlist_path = path / uidlist.FILE_NAME
        self._keywords_path = path / keywords.FILE_NAME
        self._lock_path = path / LOCK_FILE
        self._lock = threading.Lock()
        self._listeners: list[ChangeListener] = []
        self._uidlist: UidList | None = None
        self._uidlist_sig: Sig | None = None
        self._uidlist_unsaved = False
        self._keywords = Keywords()
        self._keywords_sig: Sig | None = None
        self._keywords_changed = False
        #: base name -> "new/<file name>" or "cur/<file name>"
        self._files: dict[str, str] = {}
        #: base name -> (CRLF size, mtime); immutable for a message's life.
        self._meta: dict[str, tuple[int, float]] = {}
        self._infos: dict[int, MessageInfo] = {}
        self._info_rel: dict[int, str] = {}
        self._dir_sig: tuple[Sig, Sig, Sig | None] | None = None
        self._snapshot: Snapshot | None = None
        self._snapshot_stale = True
        self._version = 0
        #: Recent UIDs some session of this process already got.
        self._claimed: set[int] = set()
        #: Messages this process put straight into ``cur/``: still recent for IMAP.
        self._pending_recent: set[int] = set()

    # ------------------------------------------------------------------ API

    async def snapshot(self, claim_recent: bool = False) -> Snapshot:
        return await self._run("reading folder", self._snapshot_blocking, claim_recent)

    async def read(self, uid: int) -> bytes:
        return await self._run("reading message", self._read_blocking, uid)

    async def append(
        self,
        data: bytes,
        flags: Iterable[str] = (),
        internal_date: float | None = None,
    ) -> int:
        flag_list = list(flags)
        split_flags(flag_list)  # refuse bad flags before touching the disk
        uid = await self._run(
            "storing message", self._append_blocking, data, flag_list, internal_date
        )
        self._notify()
        return uid

    async def store_flags(
        self, uids: Iterable[int], flags: Iterable[str], mode: FlagMode
    ) -> dict[int, frozenset[str]]:
        flag_list = list(flags)
        split_flags(flag_list)
        result = await self._run(
            "changing flags", self._store_blocking, sorted(set(uids)), flag_list, mode
        )
        self._notify()
        return result

    async def expunge(self, uids: Iterable[int] | None = None) -> list[int]:
        wanted = None if uids is None else set(uids)
        removed = await self._run("expunging", self._expunge_blocking, wanted)
        if removed:
            self._notify()
        return removed

    async def copy_to(self, uids: Iterable[int], target: Folder) -> dict[int, int]:
        wanted = sorted(set(uids))
        if not isinstance(target, MaildirFolder):
            return await self._copy_generic(wanted, target)
        sources = await self._run("copying", self._copy_sources, wanted)
        mapping = await target._run("copying", target._copy_in, sources, self)
        if mapping:
            target._notify()
        return mapping

    def add_listener(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    # ------------------------------------------------- plumbing for callers

    def _at(self, rel: str) -> str:
        """Path of ``rel`` inside the folder; plain strings, as pathlib costs
        more than the ``stat`` itself when a scan touches thousands of files."""
        return f"{self._root}/{rel}"

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

    def cleanup_blocking(self) -> None:
        """Remove what crashes leave behind, as Dovecot does: ``tmp/`` files older
        than 36 hours (never renamed into place, so never acknowledged) and our
        own stale temporary list files."""
        now = time.time()
        with os.scandir(self._tmp) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_file() and now - entry.stat().st_mtime > TMP_MAX_AGE:
                        os.unlink(entry.path)
        with os.scandir(self._root) as entries:
            for entry in entries:
                if entry.name.endswith(".tmp") and entry.name.startswith(("dovecot-", "subscr")):
                    with contextlib.suppress(OSError):
                        if now - entry.stat().st_mtime > 3600:
                            os.unlink(entry.path)

    def _notify(self) -> None:
        """Tell sessions (on the event loop) that this process changed the folder."""
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("folder change listener failed")

    def mark_changed(self) -> None:
        """Forget cached state (after another component moved files in or out)."""
        with self._lock:
            self._dir_sig = None

    def _check_gone(self) -> None:
        if self.gone:
            raise StorageError(ErrorKind.NOT_FOUND, "folder does not exist")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """In-process lock, then the cross-process flock (always in that order)."""
        with self._lock:
            self._check_gone()
            with io.flocked(self._lock_path):
                yield

    # ------------------------------------------------------- state & scans

    def _current_sig(self) -> tuple[Sig, Sig, Sig | None]:
        return (
            _sig(os.stat(self._at("new"))),
            _sig(os.stat(self._at("cur"))),
            _path_sig(self._uidlist_path),
        )

    def _is_fresh(self) -> bool:
        if self._dir_sig is None or self._uidlist is None:
            return False
        return self._current_sig() == self._dir_sig

    def _refresh(self) -> None:
        """Re-scan if anything may have changed. Caller holds both locks."""
        if not self._is_fresh():
            self._scan()

    def _load_uidlist(self) -> UidList:
        """The uid list as on disk (cached while its stat is unchanged).

        A missing list starts afresh; a corrupt one is rebuilt with a larger
        UIDVALIDITY, which tells clients to drop their caches instead of
        trusting UIDs we can no longer vouch for.
        """
        try:
            fd = os.open(self._uidlist_path, os.O_RDONLY)
        except FileNotFoundError:
            if self._uidlist is None or self._uidlist_sig is not None:
                floor = self._uidlist.uidvalidity if self._uidlist else 0
                self._reset_uidlist(UidList(new_uidvalidity(floor)))
            assert self._uidlist is not None
            return self._uidlist
        try:
            sig = _sig(os.fstat(fd))
            if self._uidlist is not None and sig == self._uidlist_sig:
                return self._uidlist
            with open(fd, "rb", closefd=False) as handle:
                raw = handle.read()
        finally:
            os.close(fd)
        text = raw.decode("utf-8", "surrogateescape")
        try:
            parsed = UidList.parse(text)
        except UidListError as exc:
            log.warning("%s: corrupt dovecot-uidlist (%s), rebuilding", self.path, exc)
            floor = max(uidlist.salvage_uidvalidity(text), self._uidlist_validity())
            self._reset_uidlist(UidList(new_uidvalidity(floor)))
            assert self._uidlist is not None
            return self._uidlist
        if self._uidlist is not None and parsed.uidvalidity != self._uidlist.uidvalidity:
            self._forget_uids()
        self._uidlist = parsed
        self._uidlist_sig = sig
        self._uidlist_unsaved = False
        self._dir_sig = None
        return parsed

    def _uidlist_validity(self) -> int:
        return self._uidlist.uidvalidity if self._uidlist else 0

    def _reset_uidlist(self, fresh: UidList) -> None:
        self._forget_uids()
        self._uidlist = fresh
        self._uidlist_sig = None
        self._uidlist_unsaved = True
        self._dir_sig = None

    def _forget_uids(self) -> None:
        self._infos.clear()
        self._info_rel.clear()
        self._claimed.clear()
        self._pending_recent.clear()
        self._snapshot_stale = True

    def _write_uidlist(self) -> None:
        assert self._uidlist is not None
        data = self._uidlist.serialize().encode("utf-8", "surrogateescape")
        try:
            io.atomic_replace(self._uidlist_path, data)
        except BaseException:
            # Memory may now be ahead of the disk: reload the truth next time.
            self._uidlist = None
            self._uidlist_sig = None
            self._dir_sig = None
            raise
        self._uidlist_sig = _path_sig(self._uidlist_path)
        self._uidlist_unsaved = False

    def _load_keywords(self) -> Keywords:
        sig = _path_sig(self._keywords_path)
        if sig != self._keywords_sig:
            if sig is None:
                self._keywords = Keywords()
            else:
                try:
                    text = self._keywords_path.read_text("utf-8", "replace")
                except FileNotFoundError:
                    text = ""
                self._keywords = Keywords.parse(text)
            self._keywords_sig = sig
            self._keywords_changed = True
        return self._keywords

    def _save_keywords(self) -> None:
        if self._keywords.dirty:
            io.atomic_replace(self._keywords_path, self._keywords.serialize().encode("utf-8"))
            self._keywords.dirty = False
            self._keywords_sig = _path_sig(self._keywords_path)
            self._keywords_changed = True

    def _list_files(self) -> dict[str, str]:
        """base -> rel path. ``new/`` is listed before ``cur/`` so a message moved
        between them while we list is seen at least once (``cur/`` wins)."""
        files: dict[str, str] = {}
        for sub in ("new", "cur"):
            with os.scandir(self._at(sub)) as entries:
                for entry in entries:
                    name = entry.name
                    if name.startswith(".") or not entry.is_file():
                        continue
                    files[name.partition(":")[0]] = f"{sub}/{name}"
        return files

    def _measure(self, base: str, rel: str, known_crlf: int | None) -> tuple[int, float] | None:
        """(CRLF size, mtime) of a message, reading it only when no size is recorded."""
        path = self._at(rel)
        try:
            st = os.stat(path)
            size = base_sizes(base)[1]
            if size is None:
                size = known_crlf
            if size is None:
                with open(path, "rb") as handle:
                    size = crlf_size(handle.read())
        except FileNotFoundError:
            return None
        return size, st.st_mtime

    def _scan(self) -> None:
        """Reconcile memory, uid list and directories. Caller holds both locks."""
        start = time.time_ns()
        new_st = os.stat(self._at("new"))
        cur_st = os.stat(self._at("cur"))
        current = self._load_uidlist()
        self._load_keywords()
        files = self._list_files()
        missing = [base for base in current.by_base if base not in files]
        if missing:
            # readdir() may skip a file renamed while we listed: look once more.
            again = self._list_files()
            for base in missing:
                if base in again:
                    files[base] = again[base]
        changed = self._uidlist_unsaved
        for base in missing:
            if base not in files:
                current.remove(current.by_base[base])
                changed = True
        for base in sorted(base for base in files if base not in current.by_base):
            meta = self._measure(base, files[base], None)
            if meta is None:
                del files[base]
                continue
            self._meta[base] = meta
            fields = () if base_sizes(base)[1] is not None else (f"W{meta[0]}",)
            current.assign(base, fields)
            changed = True
        if changed:
            self._write_uidlist()
        self._files = files
        for base in [base for base in self._meta if base not in files]:
            del self._meta[base]
        complete = self._rebuild_infos(current)
        dirty = (not complete) or any(
            start - st.st_mtime_ns < DIRTY_WINDOW_NS for st in (new_st, cur_st)
        )
        self._dir_sig = None if dirty else (_sig(new_st), _sig(cur_st), self._uidlist_sig)

    def _rebuild_infos(self, current: UidList) -> bool:
        """MessageInfo per UID, reusing unchanged objects (cheap snapshot compares)."""
        keywords_changed = self._keywords_changed
        self._keywords_changed = False
        infos: dict[int, MessageInfo] = {}
        info_rel: dict[int, str] = {}
        complete = True
        for uid, entry in current.entries.items():
            rel = self._files.get(entry.base)
            if rel is None:
                continue
            old = self._infos.get(uid)
            if old is not None and not keywords_changed and self._info_rel.get(uid) == rel:
                infos[uid] = old
                info_rel[uid] = rel
                continue
            meta = self._meta.get(entry.base)
            if meta is None:
                meta = self._measure(entry.base, rel, entry.crlf_size)
                if meta is None:  # vanished since listing: look again next time
                    complete = False
                    continue
                self._meta[entry.base] = meta
            letters = FileName.parse(rel[4:]).letters
            info = MessageInfo(uid, meta[0], flags_of(letters, self._keywords), meta[1], entry.base)
            infos[uid] = old if old == info else info
            info_rel[uid] = rel
        self._infos = infos
        self._info_rel = info_rel
        self._claimed = {uid for uid in self._claimed if info_rel.get(uid, "").startswith("new/")}
        self._pending_recent &= infos.keys()
        self._snapshot_stale = True
        return complete

    def _build_snapshot(self) -> Snapshot:
        assert self._uidlist is not None
        messages = tuple(self._infos[uid] for uid in sorted(self._infos))
        previous = self._snapshot
        if (
            previous is not None
            and previous.messages == messages
            and previous.uidnext == self._uidlist.next_uid
            and previous.uidvalidity == self._uidlist.uidvalidity
        ):
            self._snapshot_stale = False
            return previous
        self._version += 1
        self._snapshot = Snapshot(
            self._uidlist.uidvalidity, self._uidlist.next_uid, messages, version=self._version
        )
        self._snapshot_stale = False
        return self._snapshot

    def _after_change(self) -> None:
        self._dir_sig = None
        self._snapshot_stale = True

    # -------------------------------------------------------- blocking ops

    def _snapshot_blocking(self, claim_recent: bool) -> Snapshot:
        with self._lock:
            self._check_gone()
            if not self._is_fresh() or claim_recent:
                with io.flocked(self._lock_path):
                    self._refresh()
                    recent = self._claim_recent() if claim_recent else frozenset()
            else:
                recent = frozenset()
            if self._snapshot is None or self._snapshot_stale:
                snap = self._build_snapshot()
            else:
                snap = self._snapshot
        if recent:
            snap = dataclasses.replace(snap, recent=recent)
        return snap

    def _claim_recent(self) -> frozenset[int]:
        """Hand out messages no session has seen: move ``new/`` -> ``cur/``.

        The move is what tells other processes (and Dovecot) the message is
        no longer recent. It is not fsync'd: after a crash the message is
        just recent once more, which is harmless.
        """
        recent: set[int] = set()
        for uid in sorted(self._infos):
            if uid in self._claimed:
                continue
            rel = self._info_rel[uid]
            if rel.startswith("new/"):
                base = self._infos[uid].key
                new_rel = "cur/" + FileName.parse(rel[4:]).in_cur()
                try:
                    os.rename(self._at(rel), self._at(new_rel))
                    self._files[base] = new_rel
                    self._dir_sig = None
                except OSError:
                    log.debug("%s: could not move %s to cur/", self.path, rel)
                recent.add(uid)
            elif uid in self._pending_recent:
                recent.add(uid)
        self._claimed |= recent
        self._pending_recent -= recent
        return frozenset(recent)

    def _location(self, uid: int) -> tuple[str, str] | None:
        current = self._uidlist
        if current is None:
            return None
        entry = current.entries.get(uid)
        if entry is None:
            return None
        rel = self._files.get(entry.base)
        return None if rel is None else (entry.base, rel)

    def _read_blocking(self, uid: int) -> bytes:
        """Try the remembered file name first: a FETCH of many messages must not
        re-list the folder for each one. Only a miss costs a re-scan."""
        for attempt in range(2):
            with self._lock:
                self._check_gone()
                if attempt or self._uidlist is None:
                    with io.flocked(self._lock_path):
                        self._scan()
                found = self._location(uid)
            if found is None:
                if attempt:
                    break
                continue
            try:
                with open(self._at(found[1]), "rb") as handle:
                    return to_wire(handle.read())
            except FileNotFoundError:
                continue  # renamed (flags) or expunged by someone else: look again
        raise StorageError(ErrorKind.EXPUNGED, "message has been expunged")

    def _place(self, tmp: Path, base: str, letters: str) -> str:
        """Rename a finished tmp file into ``new/`` (no flags) or ``cur/``; durable."""
        rel = f"cur/{FileName(base, letters).in_cur()}" if letters else f"new/{base}"
        os.rename(tmp, self._at(rel))
        return rel

    def _assign(self, placed: list[_Placed]) -> list[int]:
        """Record UIDs for files already durable in ``new/``/``cur/``. Both locks held."""
        current = self._load_uidlist()
        if self._uidlist_unsaved or not current.entries:
            # A fresh or rebuilt list: number everything present, ours included.
            for item in placed:
                self._meta[item.base] = (item.crlf_size, item.mtime)
            self._scan()
            current = self._load_uidlist()
            uids = [current.by_base[item.base] for item in placed]
            self._pending_recent.update(
                uid for uid, item in zip(uids, placed, strict=True) if item.rel.startswith("cur/")
            )
            return uids
        uids = []
        for item in placed:
            uid = current.assign(item.base)
            uids.append(uid)
            self._files[item.base] = item.rel
            self._meta[item.base] = (item.crlf_size, item.mtime)
            if item.rel.startswith("cur/"):
                self._pending_recent.add(uid)
        self._write_uidlist()
        self._after_change()
        return uids

    def _append_blocking(self, data: bytes, flags: list[str], internal_date: float | None) -> int:
        self._check_gone()
        disk = to_disk(data)
        size = crlf_size(disk)
        base = io.unique_name(len(disk), size)
        tmp = self._tmp / base
        st = io.write_file(tmp, disk, internal_date)
        mtime = internal_date if internal_date is not None else st.st_mtime
        try:
            with self._locked():
                letters = ""
                if flags:
                    letters = change_letters("", flags, FlagMode.REPLACE, self._load_keywords())
                    self._save_keywords()
                rel = self._place(tmp, base, letters)
                io.fsync_dir(self._at(rel[:3]))
                return self._assign([_Placed(base, rel, size, mtime)])[0]
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def _store_blocking(
        self, uids: list[int], flags: list[str], mode: FlagMode
    ) -> dict[int, frozenset[str]]:
        result: dict[int, frozenset[str]] = {}
        touched: set[str] = set()
        with self._locked():
            self._refresh()
            kw = self._load_keywords()
            for uid in uids:
                found = self._location(uid)
                for _attempt in range(2):
                    if found is None:
                        break
                    base, rel = found
                    name = FileName.parse(rel[4:])
                    letters = change_letters(name.letters, flags, mode, kw)
                    new_rel = "cur/" + name.with_letters(letters).in_cur()
                    if new_rel != rel:
                        self._save_keywords()  # the letter's meaning is durable first
                        try:
                            os.rename(self._at(rel), self._at(new_rel))
                        except FileNotFoundError:
                            again = self._list_files().get(base)
                            found = None if again is None else (base, again)
                            continue
                        self._files[base] = new_rel
                        touched.update((rel[:3], "cur"))
                        if rel.startswith("new/") and uid not in self._claimed:
                            self._pending_recent.add(uid)
                    result[uid] = flags_of(letters, kw)
                    break
            for sub in sorted(touched):
                io.fsync_dir(self._at(sub))
            if touched or self._keywords_changed:
                self._after_change()
        return result

    def _expunge_blocking(self, wanted: set[int] | None) -> list[int]:
        with self._locked():
            self._refresh()
            if wanted is None:
                targets = [uid for uid, info in self._infos.items() if DELETED in info.flags]
            else:
                targets = [uid for uid in wanted if self._location(uid) is not None]
            removed: list[int] = []
            touched: set[str] = set()
            listing: dict[str, str] | None = None
            for uid in sorted(targets):
                found = self._location(uid)
                if found is None:
                    continue
                base, rel = found
                try:
                    os.unlink(self._at(rel))
                except FileNotFoundError:
                    if listing is None:
                        listing = self._list_files()
                    moved = listing.get(base)
                    if moved is not None:
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(self._at(moved))
                        rel = moved
                touched.add(rel[:3])
                removed.append(uid)
            if not removed:
                return []
            for sub in sorted(touched):
                io.fsync_dir(self._at(sub))
            current = self._uidlist
            assert current is not None
            for uid in removed:
                entry = current.entries[uid]
                current.remove(uid)
                self._files.pop(entry.base, None)
                self._meta.pop(entry.base, None)
                self._claimed.discard(uid)
                self._pending_recent.discard(uid)
            self._write_uidlist()
            self._after_change()
            return removed

    def _copy_sources(self, uids: list[int]) -> list[_CopySource]:
        sources: list[_CopySource] = []
        with self._locked():
            self._refresh()
            for uid in uids:
                info = self._infos.get(uid)
                rel = self._info_rel.get(uid)
                if info is None or rel is None:
                    continue
                sources.append(
                    _CopySource(uid, self._at(rel), info.flags, info.size, info.internal_date)
                )
        return sources

    def _locate(self, uid: int) -> str | None:
        """Current path of a message after a forced re-scan (it was renamed under us)."""
        with self._locked():
            self._scan()
            found = self._location(uid)
        return None if found is None else self._at(found[1])

    def _link_into_tmp(self, source: _CopySource, origin: MaildirFolder) -> tuple[Path, str] | None:
        """Hard-link (or copy) a source message into our ``tmp/``; None if it is gone."""
        path: str | None = source.path
        for _attempt in range(2):
            if path is None:
                return None
            try:
                disk_size = os.stat(path).st_size
                base = io.unique_name(disk_size, source.crlf_size)
                tmp = self._tmp / base
                try:
                    os.link(path, tmp)
                except FileNotFoundError:
                    raise
                except OSError:  # EXDEV, EMLINK, EPERM on some file systems: copy instead
                    with open(path, "rb") as handle:
                        io.write_file(tmp, handle.read(), source.mtime)
                return tmp, base
            except FileNotFoundError:
                path = origin._locate(source.uid)
        return None

    def _copy_in(self, sources: list[_CopySource], origin: MaildirFolder) -> dict[int, int]:
        staged: list[tuple[_CopySource, Path, str]] = []
        try:
            for source in sources:
                linked = self._link_into_tmp(source, origin)
                if linked is not None:
                    staged.append((source, *linked))
            if not staged:
                return {}
            with self._locked():
                kw = self._load_keywords()
                letters = [change_letters("", s.flags, FlagMode.REPLACE, kw) for s, _, _ in staged]
                self._save_keywords()
                placed = []
                for (source, tmp, base), item_letters in zip(staged, letters, strict=True):
                    rel = self._place(tmp, base, item_letters)
                    placed.append(_Placed(base, rel, source.crlf_size, source.mtime))
                for sub in sorted({item.rel[:3] for item in placed}):
                    io.fsync_dir(self._at(sub))
                uids = self._assign(placed)
            return {source.uid: uid for (source, _, _), uid in zip(staged, uids, strict=True)}
        finally:
            for _, tmp, _ in staged:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)

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

    # ------------------------------------------------------ folder renames

    def move_all_to_blocking(self, target: MaildirFolder) -> int:
        """Move every message file into ``target`` (INBOX rename). Returns the count.

        Renames within one file system, one file at a time: a crash leaves each
        message in exactly one of the two folders. The keyword file goes along
        first, so keyword letters keep their meaning in the new folder.
        """
        moved = 0
        with self._locked():
            self._refresh()
            if self._keywords_path.exists():
                io.atomic_replace(target._keywords_path, self._keywords_path.read_bytes())
            for base, rel in sorted(self._files.items()):
                with contextlib.suppress(FileNotFoundError):
                    os.rename(self._at(rel), target._at(rel))
                    moved += 1
                self._meta.pop(base, None)
            for sub in ("new", "cur"):
                io.fsync_dir(target._at(sub))
                io.fsync_dir(self._at(sub))
            self._scan()
        target.mark_changed()
        return moved
