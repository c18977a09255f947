"""Putting message files into a folder: append, copy (hard links), delivery and
the INBOX move.

Every path follows the same durable order: file fsync'd in ``tmp/``, renamed
into ``new/`` or ``cur/``, directory fsync'd, and only then a UID recorded.

A *delivery* (SMTP, the queue's local retries, webmail's send: mail for a
user's INBOX that nobody waits to number) stops before the last step, the way
Postfix's and Dovecot's local delivery agents do: the file is durable in
``new/`` and the next reader of the folder (any session, any worker) numbers
it in its scan, as it numbers files another program put there. That saves
each delivery the folder lock both workers share, the uid-list append and the
mod-sequence journal record, each fsync'd. ``writer.py`` writes a process's
deliveries in batches, one thread call per batch, spooled ones
(``deliver_file``, staged in ``tmp/`` first) included.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mailserver.storage.maildir import io
from mailserver.storage.maildir.flags import FileName, change_letters, crlf_size, to_disk
from mailserver.storage.maildir.scan import ScannedFolder
from mailserver.storage.model import FlagMode


@dataclass(frozen=True, slots=True)
class _CopySource:
    uid: int
    path: str
    flags: frozenset[str]
    crlf_size: int
    mtime: float


@dataclass(frozen=True, slots=True)
class Staged:
    """A complete message file in ``tmp/``, fsync'd, not yet in the folder."""

    tmp: Path
    #: Its final base name (carrying ``S=`` and ``W=``).
    base: str
    crlf_size: int
    mtime: float

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


@dataclass(frozen=True, slots=True)
class _Placed:
    """A message file just renamed into this folder, waiting for its UID."""

    base: str
    rel: str
    crlf_size: int
    mtime: float


@dataclass(slots=True)
class Arrival:
    """A message fsync'd in ``tmp/``, queued for the next group commit."""

    tmp: Path
    base: str
    flags: list[str]
    size: int
    mtime: float
    done: bool = False
    uid: int | None = None
    error: BaseException | None = None
    #: Still open and not yet fsync'd (``_stage_delivery_blocking``): the writer
    #: fsyncs and closes it (``io.finish_new_file``) before placing it.
    fd: int | None = None


class Placement(ScannedFolder):
    def _place(self, tmp: Path, base: str, letters: str) -> str:
        """Rename a finished tmp file into ``new/`` (no flags) or ``cur/``; durable."""
        rel = f"cur/{FileName(base, letters).in_cur()}" if letters else f"new/{base}"
        os.rename(tmp, self._at(rel))
        return rel

    @contextlib.contextmanager
    def _undo_on_failure(self, rels: list[str]) -> Iterator[None]:
        """Remove the files at ``rels`` again if the block fails. Both locks held.

        A failure reply (IMAP ``NO``, SMTP ``4xx``) makes the client send the
        message again, so a file already renamed into place (say the disk
        filled up while the uid list was rewritten) must not stay behind to
        turn up later as a duplicate. A UID it may have got already is never
        reused: ``N`` in the uid list only grows.
        """
        try:
            yield
        except BaseException:
            for rel in rels:
                with contextlib.suppress(OSError):
                    os.unlink(self._at(rel))
            for sub in sorted({rel[:3] for rel in rels}):
                with contextlib.suppress(OSError):
                    io.fsync_dir(self._at(sub))
            self._after_change()  # memory may list them: re-scan next time
            raise

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
        self._append_uidlist(uids)
        for uid, item in zip(uids, placed, strict=True):
            self._touch(uid, item.rel)
        self._flush_modseqs()
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
        return self._place_staged_blocking(Staged(tmp, base, size, mtime), flags)

    def _stage_file_blocking(
        self, prefix: bytes, source: Path, offset: int, internal_date: float | None
    ) -> Staged:
        """Copy ``prefix`` + ``source`` from ``offset`` into ``tmp/`` with LF line ends,
        in chunks, fsync'd; the caller places it (or removes it: :meth:`Staged.discard`)."""
        self._check_gone()
        tmp = self._tmp / io.unique_name(0, 0)
        converter = io.ToDisk()

        def copy(fd: int) -> None:
            io.write_all(fd, converter.feed(prefix))
            with open(source, "rb") as handle:
                handle.seek(offset)
                while chunk := handle.read(io.COPY_CHUNK):
                    io.write_all(fd, converter.feed(chunk))
            io.write_all(fd, converter.end())

        st = io.write_file_with(tmp, copy, internal_date)
        base = io.unique_name(converter.disk_size, converter.crlf_size)
        mtime = internal_date if internal_date is not None else st.st_mtime
        return Staged(tmp, base, converter.crlf_size, mtime)

    def _place_staged_blocking(self, staged: Staged, flags: list[str]) -> int:
        """Rename a staged file into ``new/``/``cur/`` and give it a UID; durable.

        Goes through the group commit (:meth:`_commit_tmp`) like every other
        append, so a spooled SMTP delivery or APPEND shares its directory
        fsync and uid-list write with whatever else arrives meanwhile. The
        tmp file is gone afterwards whatever happens (a committed one was
        renamed away: no ``unlink`` that can only fail, one system call and
        one GIL hand-off per message fewer)."""
        committed = False
        try:
            self._check_gone()
            arrival = Arrival(staged.tmp, staged.base, flags, staged.crlf_size, staged.mtime)
            uid = self._commit_tmp(arrival)
            committed = True
            return uid
        finally:
            if not committed:
                staged.discard()

    def _commit_tmp(self, arrival: Arrival) -> int:
        """Move a durable file from ``tmp/`` into place and give it a UID: group commit.

        Every append needs a rename, a directory fsync, a uid-list line and a
        mod-sequence record (both fsync'd) under the folder lock, so appends
        to one folder queue for it. Whoever gets the lock first commits every
        arrival queued by then with one directory fsync, one uid-list write
        and one journal fsync (as databases batch their log flushes); the
        others find theirs done when the lock comes to them. Nobody returns
        (and so nobody acknowledges) before their own message is durable; if
        the batch fails, every message in it fails and none stays behind.
        """
        with self._arrivals_lock:
            self._arrivals.append(arrival)
        try:
            with self._lock:
                # Only a holder of ``_lock`` commits, so ``done`` cannot change while
                # we hold it: one already committed by another thread needs neither
                # the cross-process flock (a poll while the other worker holds it)
                # nor anything else.
                if not arrival.done:
                    self._check_gone()
                    with self._flocked():
                        with self._arrivals_lock:
                            batch, self._arrivals = self._arrivals, []
                        self._commit_batch(batch)
        finally:
            if not arrival.done:  # the lock failed (folder gone): withdraw it
                with self._arrivals_lock, contextlib.suppress(ValueError):
                    self._arrivals.remove(arrival)
        if arrival.error is not None:
            raise arrival.error
        assert arrival.uid is not None
        return arrival.uid

    def _commit_batch(self, batch: list[Arrival]) -> None:
        """Place and number ``batch``; sets each arrival's UID or error. Both locks held."""
        rels: list[str] = []
        try:
            with self._undo_on_failure(rels):
                placed = []
                for item in batch:
                    letters = ""
                    if item.flags:
                        keywords = self._load_keywords()
                        letters = change_letters("", item.flags, FlagMode.REPLACE, keywords)
                        self._save_keywords()
                    rel = self._place(item.tmp, item.base, letters)
                    rels.append(rel)
                    placed.append(_Placed(item.base, rel, item.size, item.mtime))
                for sub in sorted({rel[:3] for rel in rels}):
                    io.fsync_dir(self._at(sub))
                uids = self._assign(placed)
        except BaseException as exc:
            for item in batch:
                item.error = exc
                item.done = True
            raise
        for item, uid in zip(batch, uids, strict=True):
            item.uid = uid
            item.done = True

    # ------------------------------------------------------------ delivery

    def _stage_delivery_blocking(self, data: bytes) -> Arrival:
        """``data`` created and written in ``tmp/``, its writeback started but not
        yet fsync'd: ``writer.py`` writes a batch of them per thread call, then
        fsyncs them all (``io.start_new_file``) before :meth:`_deliver_batch`."""
        self._check_gone()
        disk = to_disk(data)
        size = crlf_size(disk)
        base = io.unique_name(len(disk), size)
        tmp = self._tmp / base
        fd = io.start_new_file(tmp, disk)
        # The mtime is the reader's to learn when it numbers the file.
        return Arrival(tmp, base, [], size, 0.0, fd=fd)

    def _deliver_batch(self, batch: list[Arrival]) -> None:
        """Rename ``batch`` into ``new/`` and fsync it; ``_deliver_lock`` held.

        On failure the files already renamed are removed again (the client is
        told to retry; a copy left behind would turn up as a duplicate). A
        reader that scanned in between may have numbered one: it then sees it
        expunged, as if a client had deleted it at once."""
        renamed: list[str] = []
        try:
            for item in batch:
                path = self._at(f"new/{item.base}")
                os.rename(item.tmp, path)
                renamed.append(path)
            io.fsync_dir(self._at("new"))
        except BaseException as exc:
            for path in renamed:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            if renamed:
                with contextlib.suppress(OSError):
                    io.fsync_dir(self._at("new"))
            for item in batch:
                item.error = exc
                item.done = True
            raise
        for item in batch:
            item.done = True

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

    def _link_into_tmp(self, source: _CopySource, origin: ScannedFolder) -> tuple[Path, str] | None:
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

    def _copy_in(self, sources: list[_CopySource], origin: ScannedFolder) -> dict[int, int]:
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
                placed: list[_Placed] = []
                rels: list[str] = []
                with self._undo_on_failure(rels):
                    for (source, tmp, base), item_letters in zip(staged, letters, strict=True):
                        rel = self._place(tmp, base, item_letters)
                        rels.append(rel)
                        placed.append(_Placed(base, rel, source.crlf_size, source.mtime))
                    for sub in sorted({item.rel[:3] for item in placed}):
                        io.fsync_dir(self._at(sub))
                    uids = self._assign(placed)
            return {source.uid: uid for (source, _, _), uid in zip(staged, uids, strict=True)}
        finally:
            for _, tmp, _ in staged:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)

    # ------------------------------------------------------ folder renames

    def move_all_to_blocking(self, target: ScannedFolder) -> int:
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
