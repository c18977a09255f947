"""Changes to messages already in a folder: flag renames and expunges."""

from __future__ import annotations

import contextlib
import os

from mailserver.storage.maildir import io
from mailserver.storage.maildir.flags import FileName, change_letters, flags_of
from mailserver.storage.maildir.scan import ScannedFolder
from mailserver.storage.model import DELETED, FlagMode


class FlagOps(ScannedFolder):
    def _store_blocking(
        self, uids: list[int], flags: list[str], mode: FlagMode, unchanged_since: int | None
    ) -> tuple[dict[int, frozenset[str]], list[int]]:
        """Change flags; returns (new flags of each message changed or left as it
        was, UIDs refused because their mod-sequence is above ``unchanged_since``)."""
        result: dict[int, frozenset[str]] = {}
        failed: list[int] = []
        touched: set[str] = set()
        with self._locked():
            self._refresh()
            kw = self._load_keywords()
            modseqs = self._modseq_log()
            for uid in uids:
                found = self._location(uid)
                if (
                    found is not None
                    and unchanged_since is not None
                    and modseqs.modseq_of(uid) > unchanged_since
                ):
                    failed.append(uid)  # RFC 7162 3.1.3: changed since the client looked
                    continue
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
                        self._touch(uid, new_rel)
                        touched.update((rel[:3], "cur"))
                        if rel.startswith("new/") and uid not in self._claimed:
                            self._pending_recent.add(uid)
                    result[uid] = flags_of(letters, kw)
                    break
            for sub in sorted(touched):
                io.fsync_dir(self._at(sub))
            self._flush_modseqs()  # after the renames are durable, before the lock goes
            if touched or self._keywords_changed:
                self._after_change()
        return result, failed

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
            self._record_expunge(removed)
            self._flush_modseqs()
            self._after_change()
            return removed
