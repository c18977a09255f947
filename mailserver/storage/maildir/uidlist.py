"""Dovecot's ``dovecot-uidlist`` (version 3): the persistent UID <-> file name map.

Header ``3 V<uidvalidity> N<nextuid> G<guid>`` then one ``<uid> [<key><value>
...] :<file name>`` line per message, in ascending UID order. We write base
names (no ``:2,`` flags) and read either form, as Dovecot does. Adopting the
format lets Dovecot and this server take over each other's maildirs with UIDs
intact. Version 1 (Courier's ``courierimapuiddb`` layout) is read too.

This module is pure: parsing and serializing only, no I/O or locking.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field

FILE_NAME = "dovecot-uidlist"


class UidListError(ValueError):
    """The file cannot be trusted; the caller rebuilds with a new UIDVALIDITY."""


@dataclass(frozen=True, slots=True)
class UidEntry:
    base: str
    #: Extension fields written before the ``:``, e.g. ``("W1234",)``; kept verbatim.
    fields: tuple[str, ...] = ()

    @property
    def crlf_size(self) -> int | None:
        """Dovecot's ``W`` field: the CRLF size when the file name lacks ``W=``."""
        for item in self.fields:
            if item.startswith("W") and item[1:].isdigit():
                return int(item[1:])
        return None


def new_guid() -> str:
    return secrets.token_hex(16)


@dataclass
class UidList:
    uidvalidity: int
    next_uid: int = 1
    guid: str = field(default_factory=new_guid)
    #: UID -> entry, in ascending UID order.
    entries: dict[int, UidEntry] = field(default_factory=dict)
    #: Header fields we do not know (other than V, N, G), kept verbatim.
    header_extra: tuple[str, ...] = ()
    by_base: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.by_base = {entry.base: uid for uid, entry in self.entries.items()}

    def assign(self, base: str, fields: tuple[str, ...] = ()) -> int:
        """Give ``base`` the next UID (or return the one it already has)."""
        existing = self.by_base.get(base)
        if existing is not None:
            return existing
        uid = self.next_uid
        self.next_uid += 1
        self.entries[uid] = UidEntry(base, fields)
        self.by_base[base] = uid
        return uid

    def remove(self, uid: int) -> None:
        entry = self.entries.pop(uid, None)
        if entry is not None:
            self.by_base.pop(entry.base, None)

    def serialize(self) -> str:
        header = [f"3 V{self.uidvalidity} N{self.next_uid}"]
        if self.guid:
            header.append(f"G{self.guid}")
        header.extend(self.header_extra)
        return " ".join(header) + "\n" + "".join(self.entry_line(uid) for uid in self.entries)

    def entry_line(self, uid: int) -> str:
        """The line of one entry, newline included (also what an append adds)."""
        entry = self.entries[uid]
        if entry.fields:
            return f"{uid} {' '.join(entry.fields)} :{entry.base}\n"
        return f"{uid} :{entry.base}\n"

    def extend(self, text: str) -> None:
        """Take in complete v3 entry lines another writer appended after what we read.

        ``UidListError`` if they do not continue this list (the caller then
        reads the whole file again); nothing is changed in that case.
        """
        if not text.endswith("\n"):
            raise UidListError("appended text ends mid-line")
        last_uid = next(reversed(self.entries), 0)
        added: list[tuple[int, UidEntry]] = []
        bases: set[str] = set()
        for line in text[:-1].split("\n"):
            if not line:
                continue
            uid, entry = _parse_v3_entry(line)
            if uid <= last_uid:
                raise UidListError("uids not ascending")
            if entry.base in self.by_base or entry.base in bases:
                raise UidListError("file listed twice")
            last_uid = uid
            bases.add(entry.base)
            added.append((uid, entry))
        for uid, entry in added:
            self.entries[uid] = entry
            self.by_base[entry.base] = uid
        self.next_uid = max(self.next_uid, last_uid + 1)

    @classmethod
    def parse(cls, text: str) -> UidList:
        lines = text.split("\n")
        # Text after the last newline is an append a crash cut short: its
        # message was never acknowledged, and the next scan numbers it again.
        torn = lines.pop() if len(lines) > 1 else ""
        if not lines:
            raise UidListError("empty uidlist")
        version, _, rest = lines[0].partition(" ")
        if version == "3":
            result = _parse_v3_header(rest)
            parse_entry = _parse_v3_entry
        elif version == "1":
            result = _parse_v1_header(rest)
            parse_entry = _parse_v1_entry
        else:
            raise UidListError("unsupported uidlist version")
        last_uid = 0
        for line in lines[1:]:
            if not line:
                continue
            uid, entry = parse_entry(line)
            if uid <= last_uid:
                raise UidListError("uids not ascending")
            if entry.base in result.by_base:
                raise UidListError("file listed twice")
            last_uid = uid
            result.entries[uid] = entry
            result.by_base[entry.base] = uid
        if torn:
            with contextlib.suppress(UidListError):
                uid, entry = parse_entry(torn)
                if uid > last_uid and entry.base not in result.by_base:
                    last_uid = uid  # complete but for its newline: keep it
                    result.entries[uid] = entry
                    result.by_base[entry.base] = uid
        # A UID at or past N means N was not updated (appended entries, or a
        # foreign writer); never reuse it.
        result.next_uid = max(result.next_uid, last_uid + 1)
        return result


def _number(text: str, what: str) -> int:
    if not text.isdigit() or int(text) <= 0 or int(text) >= 2**32:
        raise UidListError(f"bad {what}")
    return int(text)


def _parse_v3_header(rest: str) -> UidList:
    uidvalidity = next_uid = 0
    guid = ""
    extra: list[str] = []
    for item in rest.split():
        key, value = item[0], item[1:]
        if key == "V":
            uidvalidity = _number(value, "uidvalidity")
        elif key == "N":
            next_uid = _number(value, "next uid")
        elif key == "G":
            guid = value
        else:
            extra.append(item)
    if not uidvalidity or not next_uid:
        raise UidListError("header lacks V or N")
    return UidList(uidvalidity, next_uid, guid, header_extra=tuple(extra))


def _parse_v1_header(rest: str) -> UidList:
    parts = rest.split()
    if len(parts) != 2:
        raise UidListError("bad version 1 header")
    return UidList(_number(parts[0], "uidvalidity"), _number(parts[1], "next uid"), guid="")


def _base_of(filename: str) -> str:
    base = filename.partition(":")[0]
    if not base or "/" in base:
        raise UidListError("bad file name")
    return base


def _parse_v3_entry(line: str) -> tuple[int, UidEntry]:
    uid_text, _, rest = line.partition(" ")
    uid = _number(uid_text, "uid")
    fields: list[str] = []
    while not rest.startswith(":"):
        item, sep, rest = rest.partition(" ")
        if not sep or not item:
            raise UidListError("entry lacks ':<file name>'")
        fields.append(item)
    return uid, UidEntry(_base_of(rest[1:]), tuple(fields))


def _parse_v1_entry(line: str) -> tuple[int, UidEntry]:
    uid_text, _, filename = line.partition(" ")
    return _number(uid_text, "uid"), UidEntry(_base_of(filename))


def salvage_uidvalidity(text: str) -> int:
    """The UIDVALIDITY of a damaged file, if readable: a rebuild must pick a larger one."""
    first = text.split("\n", 1)[0].split()
    for item in first[1:]:
        if item.startswith("V") and item[1:].isdigit():
            return int(item[1:])
    if len(first) >= 2 and first[0] == "1" and first[1].isdigit():
        return int(first[1])
    return 0
