"""A maildir folder's cached view of its directory and the scans that keep it true.

Messages live in ``new/`` and ``cur/``, UIDs in ``dovecot-uidlist``.

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
  a stale line, dropped at the next scan. UIDs come from ``N`` in the list
  (or the last line's UID + 1: new UIDs are appended as lines, the header is
  only rewritten with the whole list), which only grows, so none is handed
  out twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mailserver.storage.errors import ErrorKind, StorageError
from mailserver.storage.maildir import io, keywords, modseq, uidlist
from mailserver.storage.maildir.keywords import Keywords
from mailserver.storage.maildir.modseq import ModseqLog
from mailserver.storage.maildir.modseq_journal import ModseqJournal
from mailserver.storage.maildir.uidlist import UidList, UidListError
from mailserver.storage.model import MessageInfo, Snapshot

if TYPE_CHECKING:
    from mailserver.storage.maildir.placement import Arrival

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


def sig_of(st: os.stat_result) -> Sig:
    return (st.st_mtime_ns, st.st_ino, st.st_size)


def path_sig(path: Path) -> Sig | None:
    try:
        return sig_of(os.stat(path))
    except FileNotFoundError:
        return None


_uidvalidity_lock = threading.Lock()
_last_uidvalidity = 0


def letters_of(rel: str) -> str:
    """Flag letters of a message file at ``rel`` (``new/...`` or ``cur/...``)."""
    if not rel.startswith("cur/"):
        return ""
    # FileName.parse(rel[4:]).letters without the object: called per message per scan.
    _, sep, info = rel.partition(":")
    return info[2:].partition(",")[0] if sep and info.startswith("2,") else ""


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


class FolderState:
    """What a folder knows of its directory: the cache, the scans that keep it
    true, and the reads served from it. Operations that change the folder live
    in the ``FlagOps`` and ``Placement`` subclasses; the async API in ``MaildirFolder``."""

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
        self._modseq_path = path / modseq.FILE_NAME
        self._modseqs = ModseqJournal(self._modseq_path)
        self._lock = threading.Lock()
        #: Appends whose file is durable in tmp/, waiting for a group commit
        #: (``Placement._commit_tmp``); guarded by ``_arrivals_lock``, never held long.
        self._arrivals: list[Arrival] = []
        self._arrivals_lock = threading.Lock()
        #: Held by the thread renaming a batch of deliveries and syncing ``new/``.
        self._deliver_lock = threading.Lock()
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
        #: new/, cur/, uid list and mod-sequence journal as of the last complete scan.
        self._dir_sig: tuple[Sig, Sig, Sig | None, Sig | None] | None = None
        self._snapshot: Snapshot | None = None
        self._snapshot_stale = True
        self._version = 0
        #: HIGHESTMODSEQ matching ``_infos`` (snapshots are built without the flock).
        self._highest_modseq = 0
        #: UID -> (file, mod-sequence) whose recorded letters matched at the last scan.
        self._modseq_checked: dict[int, tuple[str, int]] = {}
        #: Recent UIDs some session of this process already got.
        self._claimed: set[int] = set()
        #: Messages this process put straight into ``cur/``: still recent for IMAP.
        self._pending_recent: set[int] = set()

    def _at(self, rel: str) -> str:
        """Path of ``rel`` inside the folder; plain strings, as pathlib costs
        more than the ``stat`` itself when a scan touches thousands of files."""
        return f"{self._root}/{rel}"

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
                if entry.name.endswith(".tmp") and entry.name.startswith(
                    ("dovecot-", "subscr", "mailserver-")
                ):
                    with contextlib.suppress(OSError):
                        if now - entry.stat().st_mtime > 3600:
                            os.unlink(entry.path)

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
            with self._flocked():
                yield

    @contextlib.contextmanager
    def _flocked(self) -> Iterator[None]:
        """The cross-process flock (caller holds ``_lock``). Mod-sequences recorded
        inside become durable before it is released, or are forgotten on failure."""
        with io.flocked(self._lock_path):
            try:
                yield
            except BaseException:
                self._modseqs.discard()
                self._modseq_checked = {}
                raise
            self._modseqs.flush()

    # ------------------------------------------------ index files

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
            sig = sig_of(os.fstat(fd))
            if self._uidlist is not None and sig == self._uidlist_sig:
                return self._uidlist
            if self._extend_uidlist(fd, sig):
                assert self._uidlist is not None
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

    def _extend_uidlist(self, fd: int, sig: Sig) -> bool:
        """Read only the lines another process appended since our last read.

        Deliveries append to the list (``_append_uidlist``), so with several
        workers delivering into one folder each would otherwise re-read and
        re-parse the whole list after every delivery of the other: linear in
        the folder's size, per message. Same file (inode), grown, and our part
        ending in a newline: parse the tail; anything else, read it all.
        """
        known = self._uidlist_sig
        current = self._uidlist
        if current is None or known is None or self._uidlist_unsaved:
            return False
        old_size, new_size = known[2], sig[2]
        if sig[1] != known[1] or new_size <= old_size or old_size == 0:
            return False
        tail = os.pread(fd, new_size - old_size + 1, old_size - 1)
        if len(tail) != new_size - old_size + 1 or tail[:1] != b"\n":
            return False
        try:
            current.extend(tail[1:].decode("utf-8", "surrogateescape"))
        except UidListError:
            return False
        self._uidlist_sig = sig
        self._dir_sig = None
        return True

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
        self._uidlist_sig = path_sig(self._uidlist_path)
        self._uidlist_unsaved = False

    def _append_uidlist(self, uids: list[int]) -> None:
        """Record new UIDs by appending their lines (fsync'd), as Dovecot does,
        instead of rewriting the list: a delivery into a folder of 50,000
        messages must not rewrite 50,000 lines. N in the header goes stale;
        readers take the last UID + 1 when that is larger. Anything but the
        exact file we last read or wrote gets the whole list rewritten."""
        current = self._uidlist
        assert current is not None
        known = self._uidlist_sig
        if self._uidlist_unsaved or known is None:
            self._write_uidlist()
            return
        data = "".join(current.entry_line(uid) for uid in uids).encode("utf-8", "surrogateescape")
        try:
            fd = os.open(self._uidlist_path, os.O_RDWR | os.O_APPEND)
        except FileNotFoundError:
            self._write_uidlist()
            return
        try:
            st = os.fstat(fd)
            if sig_of(st) != known or st.st_size == 0 or os.pread(fd, 1, st.st_size - 1) != b"\n":
                os.close(fd)
                fd = -1
                self._write_uidlist()
                return
            try:
                io.append_synced(fd, data)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, st.st_size)  # no half line left behind
                raise
            st = os.fstat(fd)
        except BaseException:
            # Memory may now be ahead of the disk: reload the truth next time.
            self._uidlist = None
            self._uidlist_sig = None
            self._dir_sig = None
            raise
        finally:
            if fd >= 0:
                os.close(fd)
        self._uidlist_sig = sig_of(st)

    def _load_keywords(self) -> Keywords:
        sig = path_sig(self._keywords_path)
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
            self._keywords_sig = path_sig(self._keywords_path)
            self._keywords_changed = True

    def _modseq_log(self) -> ModseqLog:
        """The mod-sequence journal, matched to the loaded uid list. Both locks held."""
        return self._modseqs.load(self._uidlist_validity())

    def _touch(self, uid: int, rel: str) -> None:
        """Give a message just added or changed (now at ``rel``) a new mod-sequence."""
        current = self._modseq_log()
        self._modseqs.record(current.touch(uid, letters_of(rel)))

    def _record_expunge(self, uids: list[int]) -> None:
        current = self._modseq_log()
        self._modseqs.record(current.expunge(uids))

    def _flush_modseqs(self) -> None:
        """Make recorded mod-sequences durable, before the lock is released."""
        self._modseqs.flush()

    def _after_change(self) -> None:
        self._dir_sig = None
        self._snapshot_stale = True
