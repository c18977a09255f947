"""A session's picture of its selected mailbox, and what changed since it was last told.

IMAP sequence numbers are per session: they change only when *this* session
is told about an EXPUNGE, which RFC 3501 7.4.1 forbids during FETCH, STORE
and SEARCH. So each session keeps its own ``seq -> uid`` list and the flags
it last reported, and compares them with a fresh store snapshot after every
command. Messages someone else expunged stay in the list ("ghosts") until
the session may announce their removal.

The view also remembers whether the store told it about a change
(``changed``): a future IDLE loop waits on :attr:`changed_event` and calls
:meth:`refresh` to learn what to report.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Iterable, Iterator

from mailserver.imap import wire
from mailserver.storage import SEEN, Folder, MessageInfo, Snapshot

RECENT = "\\Recent"
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


class SelectedView:
    def __init__(self, folder: Folder, readonly: bool, snapshot: Snapshot) -> None:
        self.folder = folder
        self.readonly = readonly
        self.snapshot = snapshot
        self.uidvalidity = snapshot.uidvalidity
        #: Sequence number n is ``uids[n - 1]``; ascending, like UIDs themselves.
        self.uids: list[int] = list(snapshot.uids)
        #: Flags as last reported to the client (without ``\\Recent``).
        self.flags: dict[int, frozenset[str]] = {m.uid: m.flags for m in snapshot.messages}
        self.recent: set[int] = set(snapshot.recent)
        #: Some message in :attr:`uids` was expunged elsewhere and not yet announced.
        self.ghosts = False
        #: Keywords the client was told about in FLAGS / PERMANENTFLAGS.
        self.keywords = self._keywords_in(snapshot)
        #: Snapshot version whose changes the client has been told about.
        self._reported_version = snapshot.version
        #: RFC 7162: flag-change FETCH responses carry UID and MODSEQ (CONDSTORE on)
        #: and removals are reported as VANISHED, not EXPUNGE (QRESYNC on).
        self.condstore = False
        self.qresync = False
        self.changed_event = asyncio.Event()
        folder.add_listener(self._on_change)

    def close(self) -> None:
        self.folder.remove_listener(self._on_change)

    def _on_change(self) -> None:
        self.changed_event.set()

    # --------------------------------------------------------- lookups

    @property
    def exists(self) -> int:
        return len(self.uids)

    def seq_of(self, uid: int) -> int | None:
        index = bisect.bisect_left(self.uids, uid)
        if index < len(self.uids) and self.uids[index] == uid:
            return index + 1
        return None

    def info(self, uid: int) -> MessageInfo | None:
        """Current store data of a message; None for a ghost (expunged elsewhere)."""
        return self.snapshot.find(uid)

    def max_uid(self) -> int:
        return self.uids[-1] if self.uids else 0

    def reported_flags(self, uid: int) -> list[str]:
        flags = sorted(self.flags.get(uid, frozenset()))
        if uid in self.recent:
            flags.append(RECENT)
        return flags

    def first_unseen(self) -> int | None:
        for seq, uid in enumerate(self.uids, 1):
            info = self.snapshot.find(uid)
            if info is not None and SEEN not in info.flags:
                return seq
        return None

    def uids_in(self, ranges: Iterable[tuple[int, int]]) -> Iterator[int]:
        """UIDs of the view inside ``(low, high)`` UID ranges, ascending, once each."""
        wanted: set[int] = set()
        for low, high in ranges:
            start = bisect.bisect_left(self.uids, low)
            end = bisect.bisect_right(self.uids, high)
            wanted.update(self.uids[start:end])
        return iter(sorted(wanted))

    @staticmethod
    def _keywords_in(snapshot: Snapshot) -> frozenset[str]:
        return frozenset(f for m in snapshot.messages for f in m.flags if not f.startswith("\\"))

    def flags_announcement(self) -> list[bytes]:
        """``* FLAGS`` and ``PERMANENTFLAGS`` with the keywords in use (RFC 3501 7.2.6)."""
        flags = [*SYSTEM_FLAGS, *sorted(self.keywords)]
        permanent = b"()" if self.readonly else wire.flag_list([*flags, "\\*"])
        return [
            b"* FLAGS %s\r\n" % wire.flag_list(flags),
            b"* OK [PERMANENTFLAGS %s] Flags permitted\r\n" % permanent,
        ]

    # --------------------------------------------------------- changes

    def note_flags(self, uid: int, flags: frozenset[str]) -> None:
        """This session told the client (or the client knows) these flags."""
        if uid in self.flags:
            self.flags[uid] = flags

    async def sync(self) -> None:
        """Bring message data up to date without reporting anything yet.

        Run before a command so it works on current flags and knows which
        messages vanished; :meth:`refresh` afterwards reports the changes.
        """
        self.snapshot = await self.folder.snapshot()

    async def refresh(self, allow_expunge: bool) -> list[bytes]:
        """Re-read the folder and return the untagged responses for what changed.

        Order matters for the client's bookkeeping: EXPUNGEs first (they
        renumber), then EXISTS/RECENT for new mail, then FETCH FLAGS.
        """
        self.changed_event.clear()
        snapshot = await self.folder.snapshot()
        if snapshot.version == self._reported_version and not (allow_expunge and self.ghosts):
            self.snapshot = snapshot
            return []
        if not self.readonly and snapshot.uids and snapshot.uids[-1] > self.max_uid():
            # New mail: claim \Recent for this session (RFC 3501 2.3.2).
            snapshot = await self.folder.snapshot(claim_recent=True)
            self.recent |= snapshot.recent
        self.snapshot = snapshot
        self._reported_version = snapshot.version
        out: list[bytes] = []
        if allow_expunge:
            out.extend(self._expunges())
        else:
            self.ghosts = any(snapshot.find(uid) is None for uid in self.uids)
        known = self.max_uid()
        new = [uid for uid in snapshot.uids if uid > known]
        if new:
            for uid in new:
                info = snapshot.find(uid)
                assert info is not None
                self.flags[uid] = info.flags
            self.uids.extend(new)
            out.append(b"* %d EXISTS\r\n" % len(self.uids))
            out.append(b"* %d RECENT\r\n" % len(self.recent))
        keywords = self._keywords_in(snapshot)
        if not keywords <= self.keywords:
            # A new keyword must be in FLAGS before a FETCH response shows it.
            self.keywords |= keywords
            out.extend(self.flags_announcement())
        out.extend(self._flag_updates())
        return out

    def _expunges(self) -> Iterator[bytes]:
        gone = [uid for uid in self.uids if self.snapshot.find(uid) is None]
        for uid in gone:
            seq = self.seq_of(uid)
            assert seq is not None
            del self.uids[seq - 1]
            self.flags.pop(uid, None)
            self.recent.discard(uid)
            if not self.qresync:
                yield b"* %d EXPUNGE\r\n" % seq
        if gone and self.qresync:
            # RFC 7162 3.2.10: one line for any number of removals.
            yield b"* VANISHED %s\r\n" % wire.sequence_set(gone)
        self.ghosts = False

    def _flag_updates(self) -> list[bytes]:
        out = []
        for seq, uid in enumerate(self.uids, 1):
            info = self.snapshot.find(uid)
            if info is not None and info.flags != self.flags.get(uid):
                self.flags[uid] = info.flags
                out.append(self.flags_fetch(seq, info))
        return out

    def flags_fetch(self, seq: int, info: MessageInfo) -> bytes:
        """Unsolicited ``* n FETCH (FLAGS ...)``, with UID and MODSEQ once CONDSTORE is on."""
        flags = wire.flag_list(self.reported_flags(info.uid))
        if self.condstore:
            return b"* %d FETCH (UID %d FLAGS %s MODSEQ (%d))\r\n" % (
                seq,
                info.uid,
                flags,
                info.modseq,
            )
        return b"* %d FETCH (FLAGS %s)\r\n" % (seq, flags)
