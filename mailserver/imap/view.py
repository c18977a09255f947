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
from typing import Protocol

from mailserver.imap import wire
from mailserver.storage import SEEN, Folder, MessageInfo, Snapshot

RECENT = "\\Recent"
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


class Watcher(Protocol):
    """Something that adds untagged responses after every refresh (RFC 5267 contexts)."""

    async def __call__(self, view: SelectedView) -> list[bytes]: ...


class SelectedView:
    def __init__(self, folder: Folder, readonly: bool, snapshot: Snapshot) -> None:
        self.folder = folder
        self.readonly = readonly
        self.snapshot = snapshot
        self.uidvalidity = snapshot.uidvalidity
        #: Sequence number n is ``uids[n - 1]``; ascending, like UIDs themselves.
        #: Starts as the snapshot's own list and is replaced, never changed in
        #: place: an idle session on a big folder holds no copy of its own.
        self.uids: list[int] = snapshot.uids
        #: Flags as last reported to the client (without ``\\Recent``): those of
        #: ``_flag_base`` (a store snapshot, shared) unless ``_flag_diff`` says
        #: otherwise. A per-session dict of every message would cost megabytes.
        self._flag_base = snapshot
        self._flag_diff: dict[int, frozenset[str]] = {}
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
        #: SEARCHRES (RFC 5182): UIDs saved by ``SEARCH RETURN (SAVE)``, ``$`` in commands;
        #: a new SELECT makes a new view, so it starts empty as the RFC asks.
        self.saved_result: frozenset[int] = frozenset()
        #: Runs after every refresh; set by CONTEXT=SEARCH/SORT (``contexts.py``).
        self.watcher: Watcher | None = None
        #: CONDSTORE came on while selected: the next refresh sends ``OK [HIGHESTMODSEQ]``.
        self.announce_highest_modseq = False
        #: IMAP4rev2 is enabled (``rev2.py``): no ``\\Recent`` and no RECENT responses.
        self.rev2 = False
        #: The folder changed since the last refresh (what :attr:`changed_event` says).
        self._changed = False
        #: Made when IDLE or NOTIFY first waits: an ``asyncio.Event`` per idle session
        #: costs ~850 octets, and most sessions never wait on it.
        self._changed_event: asyncio.Event | None = None
        folder.add_listener(self._on_change)

    def close(self) -> None:
        self.folder.remove_listener(self._on_change)

    def _on_change(self) -> None:
        self._changed = True
        if self._changed_event is not None:
            self._changed_event.set()

    @property
    def changed_event(self) -> asyncio.Event:
        """Set when the folder changed since the last refresh; IDLE and NOTIFY wait on it."""
        event = self._changed_event
        if event is None:
            event = self._changed_event = asyncio.Event()
            if self._changed:
                event.set()
        return event

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

    def _reported(self, uid: int) -> frozenset[str] | None:
        """Flags last reported for a message of the view (None: never reported)."""
        flags = self._flag_diff.get(uid)
        if flags is not None:
            return flags
        info = self._flag_base.find(uid)
        return None if info is None else info.flags

    def reported_flags(self, uid: int) -> list[str]:
        flags = sorted(self._reported(uid) or frozenset())
        if uid in self.recent and not self.rev2:
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
        if self.seq_of(uid) is None:
            return
        info = self._flag_base.find(uid)
        if info is not None and info.flags == flags:
            self._flag_diff.pop(uid, None)
        else:
            self._flag_diff[uid] = flags

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
        out = await self._refresh(allow_expunge)
        if self.announce_highest_modseq:
            self.announce_highest_modseq = False
            highest = self.snapshot.highest_modseq
            out.append(b"* OK [HIGHESTMODSEQ %d] Highest\r\n" % highest)
        if self.watcher is not None:
            out.extend(await self.watcher(self))
        return out

    async def _refresh(self, allow_expunge: bool) -> list[bytes]:
        self._changed = False
        if self._changed_event is not None:
            self._changed_event.clear()
        snapshot = await self.folder.snapshot()
        if snapshot.version == self._reported_version and not (allow_expunge and self.ghosts):
            self.snapshot = snapshot
            return []
        if snapshot.uids and snapshot.uids[-1] > self.max_uid():
            # New mail is \Recent for the first session told of it, which claims it;
            # a read-only session shows it without claiming (RFC 3501 2.3.2).
            if self.readonly:
                self.recent |= await self.folder.recent_uids()
            else:
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
        new = snapshot.uids[bisect.bisect_right(snapshot.uids, known) :]
        if new:
            # Their flags are reported as they are now: _flag_updates skips UIDs
            # with nothing reported yet, and then makes this snapshot the base.
            self.uids = self.uids + new
            out.append(b"* %d EXISTS\r\n" % len(self.uids))
            if not self.rev2:
                out.append(b"* %d RECENT\r\n" % len(self.recent))
        keywords = self._keywords_in(snapshot)
        if not keywords <= self.keywords:
            # A new keyword must be in FLAGS before a FETCH response shows it.
            self.keywords |= keywords
            out.extend(self.flags_announcement())
        out.extend(self._flag_updates())
        if not self.ghosts and self.uids is not snapshot.uids and self.uids == snapshot.uids:
            self.uids = snapshot.uids  # share the store's list again
        return out

    def _expunges(self) -> list[bytes]:
        """Drop messages gone from the snapshot, in one pass (a per-message
        ``del`` from the list would make a big EXPUNGE quadratic)."""
        self.ghosts = False
        snapshot = self.snapshot
        gone = [uid for uid in self.uids if snapshot.find(uid) is None]
        if not gone:
            return []
        gone_set = set(gone)
        out = []
        kept: list[int] = []
        for uid in self.uids:
            if uid in gone_set:
                # Each EXPUNGE renumbers those after it (RFC 3501 7.4.1).
                out.append(b"* %d EXPUNGE\r\n" % (len(kept) + 1))
            else:
                kept.append(uid)
        self.uids = kept
        for uid in gone:
            self._flag_diff.pop(uid, None)
            self.recent.discard(uid)
        if self.qresync:
            # RFC 7162 3.2.10: one line for any number of removals.
            return [b"* VANISHED %s\r\n" % wire.sequence_set(gone)]
        return out

    def _flag_updates(self) -> list[bytes]:
        """FETCH FLAGS for every message whose flags differ from those last reported.

        One merge walk over the view and the old and new snapshots (all in
        UID order); unchanged messages are the very same objects in both
        snapshots, so most cost one identity check.
        """
        snapshot = self.snapshot
        base = self._flag_base
        diff = self._flag_diff
        if base.messages is snapshot.messages and not diff:
            return []
        old = base.messages
        uids = self.uids
        changed: list[tuple[int, MessageInfo]] = []
        i = j = 0
        for info in snapshot.messages:
            uid = info.uid
            while i < len(uids) and uids[i] < uid:
                i += 1
            if i == len(uids):
                break
            if uids[i] != uid:
                continue
            while j < len(old) and old[j].uid < uid:
                j += 1
            reported = diff.get(uid)
            if reported is None:
                if j == len(old) or old[j].uid != uid:
                    continue  # new in this refresh: nothing reported yet
                if old[j] is info:
                    continue
                reported = old[j].flags
            if info.flags != reported:
                changed.append((i + 1, info))
        # Reported from now on: the snapshot's flags, for every message.
        self._flag_base = snapshot
        self._flag_diff = {}
        return [self.flags_fetch(seq, info) for seq, info in changed]

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
