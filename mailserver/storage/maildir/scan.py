"""Listing a folder's directories into its cache, and serving reads from it.

A scan reconciles three things: the uid list, the keywords file and what
``new/`` and ``cur/`` hold now. Unchanged ``MessageInfo`` objects are reused
so that comparing snapshots stays cheap.
"""

from __future__ import annotations

import os
import time
from typing import BinaryIO

from mailserver.storage.errors import ErrorKind, StorageError
from mailserver.storage.maildir.flags import FileName, base_sizes, crlf_size, flags_of, to_wire
from mailserver.storage.maildir.modseq import normalize_letters
from mailserver.storage.maildir.state import (
    DIRTY_WINDOW_NS,
    FolderState,
    Sig,
    letters_of,
    log,
    path_sig,
    sig_of,
)
from mailserver.storage.maildir.uidlist import UidList
from mailserver.storage.model import MessageInfo, Snapshot


def delivery_order(base: str) -> tuple[int, int, str]:
    """Sort key giving new files UIDs in delivery order: ``<sec>.M<usec>...``
    compared numerically, as Dovecot does. As plain strings, ``1.M99`` would
    sort after ``1.M100``."""
    sec_text, _, rest = base.partition(".")
    sec = int(sec_text) if sec_text.isdigit() else 0
    usec = 0
    if rest.startswith("M"):
        digits = rest[1 : len(rest) - len(rest[1:].lstrip("0123456789"))]
        usec = int(digits) if digits else 0
    return sec, usec, base


#: Counting line ends of a message with no recorded size reads this much at a time.
READ_CHUNK = 1 << 20


def measure(path: str, base: str, known_crlf: int | None) -> tuple[int, float] | None:
    """(CRLF size, mtime) of the message file at ``path``; None if it is gone."""
    size = base_sizes(base)[1] if ",W=" in base else None
    if size is None:
        size = known_crlf
    try:
        if size is not None:
            return size, os.stat(path).st_mtime
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        st = os.fstat(fd)
        return _count_crlf(fd, st.st_size), st.st_mtime
    finally:
        os.close(fd)


def _count_crlf(fd: int, size: int) -> int:
    """CRLF size of the rest of ``fd`` (``size`` bytes, says ``fstat``), read in
    bounded chunks (big messages are not held whole); a CR LF split between two
    chunks counts once. Reads ask for what is left plus one byte: a 1 MiB
    buffer per small file costs more than the read itself."""
    total = 0
    last_cr = False
    left = size
    while True:
        want = min(READ_CHUNK, left + 1)
        chunk = os.read(fd, want)
        total += crlf_size(chunk)
        if last_cr and chunk[:1] == b"\n":
            total -= 1
        if len(chunk) < want:  # end of file: no second read to learn it
            return total
        left = max(left - len(chunk), 0)
        last_cr = chunk[-1:] == b"\r"


class ScannedFolder(FolderState):
    """Scans and the reads they serve (snapshot, message bodies, recent claims)."""

    def _current_sig(self) -> tuple[Sig, Sig, Sig | None, Sig | None]:
        return (
            sig_of(os.stat(self._at("new"))),
            sig_of(os.stat(self._at("cur"))),
            path_sig(self._uidlist_path),
            path_sig(self._modseq_path),
        )

    def _is_fresh(self) -> bool:
        if self._dir_sig is None or self._uidlist is None:
            return False
        return self._current_sig() == self._dir_sig

    def _refresh(self) -> None:
        """Re-scan if anything may have changed. Caller holds both locks."""
        if not self._is_fresh():
            self._scan()

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
        """(CRLF size, mtime) of a message, reading it only when no size is recorded.

        One ``stat`` when the size is known (``W=`` in the name or the uid
        list); otherwise open, ``fstat`` and read through the one descriptor,
        so a copied-in file costs no extra path lookup."""
        return measure(self._at(rel), base, known_crlf)

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
        rewrite = self._uidlist_unsaved
        for base in missing:
            if base not in files:
                current.remove(current.by_base[base])
                rewrite = True
        by_base = current.by_base
        assigned: list[int] = []
        for base in sorted((base for base in files if base not in by_base), key=delivery_order):
            meta = self._measure(base, files[base], None)
            if meta is None:  # removed between readdir and measuring
                del files[base]
                continue
            self._meta[base] = meta
            fields = () if ",W=" in base and base_sizes(base)[1] is not None else (f"W{meta[0]}",)
            assigned.append(current.assign(base, fields))
        if rewrite:
            self._write_uidlist()
        elif assigned:
            # Only new files (deliveries land unnumbered in new/): append their
            # lines, as an append does, not rewrite a list of 50,000 per delivery.
            self._append_uidlist(assigned)
        self._files = files
        for base in [base for base in self._meta if base not in files]:
            del self._meta[base]
        self._reconcile_modseqs(current)
        complete = self._rebuild_infos(current)
        dirty = (not complete) or any(
            start - st.st_mtime_ns < DIRTY_WINDOW_NS for st in (new_st, cur_st)
        )
        self._dir_sig = (
            None
            if dirty
            else (sig_of(new_st), sig_of(cur_st), self._uidlist_sig, path_sig(self._modseq_path))
        )

    def _reconcile_modseqs(self, current: UidList) -> None:
        """Give a new mod-sequence to whatever changed without one being recorded.

        That is every change made by other programs (mutt renaming ``:2,S``,
        an MDA delivering, a file deleted) and any of ours whose record a
        crash lost. A message counts as changed when its letters differ from
        those recorded with its mod-sequence; a recorded UID that is gone is
        logged as expunged.
        """
        modseqs = self._modseq_log()
        gone = [uid for uid in modseqs.messages if uid not in current.entries]
        if gone:
            self._record_expunge(sorted(gone))
        checked = self._modseq_checked
        verified: dict[int, tuple[str, int]] = {}
        lines: list[str] = []
        for uid, entry in current.entries.items():
            rel = self._files.get(entry.base)
            if rel is None:
                continue
            record = modseqs.messages.get(uid)
            if record is not None:
                key = (rel, record[0])
                # Same file name, same record as last time: nothing to compare.
                if checked.get(uid) != key:
                    letters = letters_of(rel)
                    if letters != record[1] and normalize_letters(letters) != record[1]:
                        record = None
            if record is None:
                # One queued journal write for all of them (50,000 on a copied-in folder).
                lines.append(modseqs.touch(uid, letters_of(rel)))
                record = modseqs.messages[uid]
            verified[uid] = (rel, record[0])
        if lines:
            self._modseqs.record("".join(lines))
        self._modseq_checked = verified
        self._flush_modseqs()

    def _rebuild_infos(self, current: UidList) -> bool:
        """MessageInfo per UID, reusing unchanged objects (cheap snapshot compares)."""
        keywords_changed = self._keywords_changed
        self._keywords_changed = False
        modseqs = self._modseq_log()
        infos: dict[int, MessageInfo] = {}
        info_rel: dict[int, str] = {}
        complete = True
        keywords = self._keywords
        by_letters: dict[str, frozenset[str]] = {}

        def flags_for(rel: str) -> frozenset[str]:
            """Flags of the file at ``rel``; most files share a few letter strings."""
            letters = letters_of(rel)
            flags = by_letters.get(letters)
            if flags is None:
                flags = by_letters[letters] = flags_of(letters, keywords)
            return flags

        for uid, entry in current.entries.items():
            rel = self._files.get(entry.base)
            if rel is None:
                continue
            old = self._infos.get(uid)
            modseq = modseqs.modseq_of(uid)
            if (
                old is not None
                and not keywords_changed
                and self._info_rel.get(uid) == rel
                and old.modseq == modseq
            ):
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
            info = MessageInfo(uid, meta[0], flags_for(rel), meta[1], entry.base, modseq)
            infos[uid] = old if old == info else info
            info_rel[uid] = rel
        self._infos = infos
        self._info_rel = info_rel
        self._highest_modseq = modseqs.highest
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
            and previous.highest_modseq == self._highest_modseq
        ):
            self._snapshot_stale = False
            return previous
        self._version += 1
        self._snapshot = Snapshot(
            self._uidlist.uidvalidity,
            self._uidlist.next_uid,
            messages,
            version=self._version,
            highest_modseq=self._highest_modseq,
            # A uid list without G (Courier's, an old Dovecot's): UIDVALIDITY names the folder.
            mailbox_id=self._uidlist.guid or f"V{self._uidlist.uidvalidity}",
        )
        self._snapshot_stale = False
        return self._snapshot

    # -------------------------------------------------------- blocking ops

    def _snapshot_blocking(self, claim_recent: bool) -> Snapshot:
        with self._lock:
            self._check_gone()
            if not self._is_fresh() or claim_recent:
                with self._flocked():
                    self._refresh()
                    recent = self._claim_recent() if claim_recent else frozenset()
            else:
                recent = frozenset()
            if self._snapshot is None or self._snapshot_stale:
                snap = self._build_snapshot()
            else:
                snap = self._snapshot
        if recent:
            snap = snap.with_recent(recent)
        return snap

    def _expunged_since_blocking(self, modseq: int) -> list[int] | None:
        with self._locked():
            self._refresh()
            return self._modseq_log().expunged_since(modseq)

    def _recent_uids_blocking(self) -> frozenset[int]:
        with self._locked():
            self._refresh()
            return frozenset(
                uid
                for uid, rel in self._info_rel.items()
                if uid not in self._claimed
                and (rel.startswith("new/") or uid in self._pending_recent)
            )

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

    def _message_paths_blocking(self, uids: list[int]) -> dict[int, str]:
        """The remembered file of each message (no re-scan: a stale name is the
        reader's to notice, as :meth:`_open_blocking` does)."""
        with self._lock:
            self._check_gone()
            if self._uidlist is None:
                with self._flocked():
                    self._scan()
            out: dict[int, str] = {}
            for uid in uids:
                found = self._location(uid)
                if found is not None:
                    out[uid] = self._at(found[1])
            return out

    def _read_blocking(self, uid: int) -> bytes:
        with self._open_blocking(uid) as handle:
            return to_wire(handle.read())

    def _open_blocking(self, uid: int) -> BinaryIO:
        """The message file, opened. Tries the remembered file name first: a FETCH
        of many messages must not re-list the folder for each one. Only a miss
        costs a re-scan."""
        for attempt in range(2):
            with self._lock:
                self._check_gone()
                if attempt or self._uidlist is None:
                    with self._flocked():
                        self._scan()
                found = self._location(uid)
            if found is None:
                if attempt:
                    break
                continue
            try:
                return open(self._at(found[1]), "rb")
            except FileNotFoundError:
                continue  # renamed (flags) or expunged by someone else: look again
        raise StorageError(ErrorKind.EXPUNGED, "message has been expunged")

    def _locate(self, uid: int) -> str | None:
        """Current path of a message after a forced re-scan (it was renamed under us)."""
        with self._locked():
            self._scan()
            found = self._location(uid)
        return None if found is None else self._at(found[1])
