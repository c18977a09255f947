"""Maildir file names: ``<unique>[:2,<letters>]`` and the flag letters in them.

Upper-case letters are the maildir standard flags; lower-case ``a``..``z`` are
Dovecot keyword slots (see ``keywords.py``). Letters we cannot name (``P`` =
passed, unassigned keyword slots) are preserved untouched on every rename, so
other maildir clients lose nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mailserver.lineends import to_wire as to_wire  # re-exported
from mailserver.storage.errors import ErrorKind, StorageError
from mailserver.storage.maildir.keywords import Keywords, check_keyword
from mailserver.storage.model import ANSWERED, DELETED, DRAFT, FLAGGED, SEEN, FlagMode

#: Maildir letter -> IMAP system flag (``P`` = passed has no IMAP equivalent).
LETTER_TO_FLAG: dict[str, str] = {
    "D": DRAFT,
    "F": FLAGGED,
    "R": ANSWERED,
    "S": SEEN,
    "T": DELETED,
}
FLAG_TO_LETTER: dict[str, str] = {flag: letter for letter, flag in LETTER_TO_FLAG.items()}
INFO_SEP = ":2,"


@dataclass(frozen=True, slots=True)
class FileName:
    """A parsed maildir file name."""

    base: str
    #: Letters after ``:2,`` (empty for files in ``new/`` or with no info).
    letters: str
    #: Dovecot's ``,<non-standard fields>`` after the letters, kept verbatim.
    extra: str = ""

    @classmethod
    def parse(cls, filename: str) -> FileName:
        base, sep, info = filename.partition(":")
        if sep and info.startswith("2,"):
            letters, comma, extra = info[2:].partition(",")
            return cls(base, letters, comma + extra)
        return cls(base, "")

    def with_letters(self, letters: str) -> FileName:
        return FileName(self.base, letters, self.extra)

    def in_cur(self) -> str:
        """The file name in ``cur/``: always with an info suffix, letters sorted."""
        return f"{self.base}{INFO_SEP}{''.join(sorted(set(self.letters)))}{self.extra}"


def base_sizes(base: str) -> tuple[int | None, int | None]:
    """``S=`` (disk size) and ``W=`` (CRLF size) from a unique name, when present."""
    disk: int | None = None
    crlf: int | None = None
    for field in base.split(",")[1:]:
        key, _, value = field.partition("=")
        if value.isdigit():
            if key == "S":
                disk = int(value)
            elif key == "W":
                crlf = int(value)
    return disk, crlf


def crlf_size(disk_bytes: bytes) -> int:
    """Size of ``disk_bytes`` once every bare LF becomes CRLF (what ``read`` returns)."""
    return len(disk_bytes) + disk_bytes.count(b"\n") - disk_bytes.count(b"\r\n")


def to_disk(data: bytes) -> bytes:
    """Store LF line ends, as every Unix maildir tool expects; bare CRs stay as they are."""
    return data.replace(b"\r\n", b"\n")


_SYSTEM_BY_LOWER = {flag.lower(): flag for flag in FLAG_TO_LETTER}
_RECENT = "\\recent"


def split_flags(flags: Iterable[str]) -> tuple[set[str], list[str]]:
    """System-flag letters and keyword names of an API flag set.

    System flags match case-insensitively (RFC 3501 flags are atoms). ``\\Recent``
    is session state, not storable, so it is ignored; other unknown ``\\`` flags
    are refused rather than silently dropped.
    """
    letters: set[str] = set()
    keywords: list[str] = []
    for flag in flags:
        if flag.startswith("\\"):
            lowered = flag.lower()
            if lowered == _RECENT:
                continue
            system = _SYSTEM_BY_LOWER.get(lowered)
            if system is None:
                raise StorageError(ErrorKind.INVALID_NAME, "unknown system flag")
            letters.add(FLAG_TO_LETTER[system])
        else:
            check_keyword(flag)
            keywords.append(flag)
    return letters, keywords


def flags_of(letters: str, keywords: Keywords) -> frozenset[str]:
    """API flags of a message; letters we cannot name are not reported (but kept)."""
    result: set[str] = set()
    for letter in letters:
        system = LETTER_TO_FLAG.get(letter)
        if system is not None:
            result.add(system)
        elif "a" <= letter <= "z":
            name = keywords.flag_of(letter)
            if name is not None:
                result.add(name)
    return frozenset(result)


def _is_named(letter: str, keywords: Keywords) -> bool:
    if letter in LETTER_TO_FLAG:
        return True
    return "a" <= letter <= "z" and keywords.flag_of(letter) is not None


def change_letters(letters: str, flags: Iterable[str], mode: FlagMode, keywords: Keywords) -> str:
    """New letter string after a flag change; allocates keyword slots as needed.

    The caller persists ``keywords`` if it became dirty. Letters without an
    API name (``P``, unassigned slots) survive every mode, REPLACE included.
    """
    system, names = split_flags(flags)
    current = set(letters)
    unnamed = {letter for letter in current if not _is_named(letter, keywords)}
    wanted = set(system)
    missing: dict[str, str] = {}  # lower-cased -> as sent; keywords compare case-insensitively
    for name in names:
        letter = keywords.letter_of(name)
        if letter is not None:
            wanted.add(letter)
        elif mode is not FlagMode.REMOVE:
            missing.setdefault(name.lower(), name)
    wanted.update(keywords.add_all(list(missing.values())))
    if mode is FlagMode.ADD:
        result = current | wanted
    elif mode is FlagMode.REMOVE:
        result = current - wanted
    else:
        result = unnamed | wanted
    return "".join(sorted(result))
