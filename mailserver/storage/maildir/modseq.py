"""``mailserver-modseq``: a folder's RFC 7162 mod-sequences, kept as an append-only journal.

Maildir has no place for mod-sequences, so they live in a sidecar next to
``dovecot-uidlist``. Appending one line per change and fsyncing costs one
fsync (no rename, no directory fsync) and stays small however big the folder
is; the file is rewritten compactly only when the journal has grown to
several times the live state.

Format, one record per line::

    1 V<uidvalidity> H<highest> F<floor> G<generation>   header (first line)
    m <uid> <modseq> :<letters>                          message changed
    x <modseq> <uid> [<uid> ...]                         messages expunged

``letters`` are the maildir flag letters the message had when it got that
mod-sequence: a scan that finds other letters (mutt renamed the file, or a
crash lost the record of our own rename) gives the message a new one. The
highest mod-sequence is the maximum of the header and every record, so a
lost or torn last record can only make it lower than a value nobody was told
about. The ``x`` records form the bounded expunge history QRESYNC asks for;
``floor`` says how far back it reaches.

This module is pure: parsing and serializing only, no I/O or locking.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field

FILE_NAME = "mailserver-modseq"
#: Expunged UIDs remembered for ``Folder.expunged_since``; older ones are forgotten.
EXPUNGE_HISTORY = 10_000
#: Journal lines beyond the live state tolerated before a compacting rewrite.
COMPACT_SLACK = 1_000
#: RFC 7162 mod-sequences are 63-bit.
MAX_MODSEQ = 2**63 - 1


class ModseqError(ValueError):
    """The journal cannot be trusted; the caller starts a fresh, higher mod-sequence space."""

    def __init__(self, message: str, highest: int = 0) -> None:
        super().__init__(message)
        #: The largest mod-sequence readable before the damage (a fresh space goes above it).
        self.highest = highest


def normalize_letters(letters: str) -> str:
    """Letters in a canonical order, so ``:2,SR`` and ``:2,RS`` compare equal."""
    if len(letters) < 2 and letters not in ("\n", "\r", " "):
        return letters  # "" or "S": most messages, and already canonical
    return "".join(sorted(set(letters) - {"\n", "\r", " "}))


@dataclass
class ModseqLog:
    uidvalidity: int
    highest: int = 1
    #: ``expunged_since(m)`` is complete only for ``m >= floor``.
    floor: int = 0
    generation: str = field(default_factory=lambda: secrets.token_hex(8))
    #: UID -> (mod-sequence, normalized letters).
    messages: dict[int, tuple[int, str]] = field(default_factory=dict)
    #: (mod-sequence, UID) of expunges, oldest first.
    expunged: deque[tuple[int, int]] = field(default_factory=deque)
    #: Journal lines after the header; drives compaction.
    records: int = 0

    # ------------------------------------------------------------ changes

    def _next(self) -> int:
        if self.highest >= MAX_MODSEQ:
            raise OverflowError("mod-sequence space exhausted")
        self.highest += 1
        return self.highest

    def touch(self, uid: int, letters: str) -> str:
        """Give ``uid`` a new mod-sequence; returns the journal line to append."""
        modseq = self._next()
        letters = normalize_letters(letters)
        self.messages[uid] = (modseq, letters)
        self.records += 1
        return f"m {uid} {modseq} :{letters}\n"

    def expunge(self, uids: list[int]) -> str:
        """Record ``uids`` as expunged under one new mod-sequence; returns the journal line."""
        modseq = self._next()
        self._apply_expunge(modseq, uids)
        self.records += 1
        return f"x {modseq} {' '.join(map(str, uids))}\n"

    def _apply_expunge(self, modseq: int, uids: list[int]) -> None:
        for uid in uids:
            self.messages.pop(uid, None)
            self.expunged.append((modseq, uid))
        while len(self.expunged) > EXPUNGE_HISTORY:
            dropped, _ = self.expunged.popleft()
            self.floor = max(self.floor, dropped)

    # ------------------------------------------------------------ queries

    def modseq_of(self, uid: int) -> int:
        record = self.messages.get(uid)
        return record[0] if record is not None else 0

    def expunged_since(self, modseq: int) -> list[int] | None:
        if modseq < self.floor:
            return None
        return sorted({uid for when, uid in self.expunged if when > modseq})

    def needs_compaction(self) -> bool:
        return self.records > 2 * (len(self.messages) + len(self.expunged)) + COMPACT_SLACK

    # ------------------------------------------------------------ format

    def header(self) -> str:
        return f"1 V{self.uidvalidity} H{self.highest} F{self.floor} G{self.generation}\n"

    def serialize(self) -> str:
        """The compact form: header, then the live state as records."""
        lines = [self.header()]
        lines.extend(f"m {uid} {seq} :{letters}\n" for uid, (seq, letters) in self.messages.items())
        by_modseq: dict[int, list[int]] = {}
        for seq, uid in self.expunged:
            by_modseq.setdefault(seq, []).append(uid)
        lines.extend(f"x {seq} {' '.join(map(str, uids))}\n" for seq, uids in by_modseq.items())
        self.records = len(lines) - 1
        return "".join(lines)

    @classmethod
    def parse(cls, data: bytes) -> tuple[ModseqLog, int]:
        """The log and how many bytes were consumed; a torn last line is left unconsumed."""
        end = data.find(b"\n")
        if end < 0:
            raise ModseqError("no header")
        log = _parse_header(data[:end].decode("ascii", "replace"))
        return log, end + 1 + log.feed(data[end + 1 :])

    def feed(self, data: bytes) -> int:
        """Apply complete records from ``data``; returns the bytes consumed."""
        end = data.rfind(b"\n")
        if end < 0:
            return 0
        # One decode and split for the lot: a big folder's journal has a line per message.
        for line in data[:end].decode("utf-8", "surrogateescape").split("\n"):
            try:
                self._apply(line)
            except ModseqError as exc:
                exc.highest = self.highest
                raise
        return end + 1

    def _apply(self, line: str) -> None:
        kind, _, rest = line.partition(" ")
        if kind == "m":
            parts = rest.split(" ", 2)
            if len(parts) != 3 or not parts[2].startswith(":"):
                raise ModseqError("bad message record")
            seq = _number(parts[1])
            self.messages[_number(parts[0])] = (seq, parts[2][1:])
        elif kind == "x":
            parts = rest.split(" ")
            seq = _number(parts[0])
            if len(parts) < 2:
                raise ModseqError("expunge record without uids")
            self._apply_expunge(seq, [_number(part) for part in parts[1:]])
        else:
            raise ModseqError("unknown record")
        self.highest = max(self.highest, seq)
        self.records += 1


def _number(text: str) -> int:
    if not text.isdigit() or len(text) > 19:
        raise ModseqError("bad number")
    value = int(text)
    if not 0 < value <= MAX_MODSEQ:
        raise ModseqError("bad number")
    return value


def _parse_header(line: str) -> ModseqLog:
    version, _, rest = line.partition(" ")
    if version != "1":
        raise ModseqError("unsupported version")
    values: dict[str, str] = {}
    for item in rest.split():
        values[item[0]] = item[1:]
    try:
        uidvalidity = _number(values["V"])
        highest = _number(values["H"])
        floor = int(values["F"]) if values["F"].isdigit() else -1
        generation = values["G"]
    except KeyError:
        raise ModseqError("header lacks a field") from None
    if floor < 0 or not generation:
        raise ModseqError("bad header")
    return ModseqLog(uidvalidity, highest, floor, generation)


def salvage_highest(data: bytes) -> int:
    """The largest mod-sequence a damaged journal still shows: a fresh space starts above it."""
    best = 0
    for raw in data.split(b"\n"):
        words = raw.decode("ascii", "replace").split(" ")
        if words[0] == "1":
            candidates = [word[1:] for word in words[1:] if word.startswith("H")]
        elif words[0] == "m" and len(words) > 2:
            candidates = [words[2]]
        elif words[0] == "x" and len(words) > 1:
            candidates = [words[1]]
        else:
            continue
        for word in candidates:
            if word.isdigit() and int(word) < MAX_MODSEQ:
                best = max(best, int(word))
    return best
