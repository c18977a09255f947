"""Plain values the store hands to protocols: immutable, cheap to compare."""

from __future__ import annotations

import bisect
import enum
from dataclasses import dataclass, field

# System flags, named as IMAP (RFC 3501 2.3.2) and stored as maildir ":2," letters.
SEEN = "\\Seen"
ANSWERED = "\\Answered"
FLAGGED = "\\Flagged"
DELETED = "\\Deleted"
DRAFT = "\\Draft"
SYSTEM_FLAGS: frozenset[str] = frozenset({SEEN, ANSWERED, FLAGGED, DELETED, DRAFT})

INBOX = "INBOX"
#: Hierarchy delimiter of folder names in the store API.
DELIMITER = "/"


class FlagMode(enum.Enum):
    """How ``Folder.store_flags`` combines the given flags with the existing ones."""

    REPLACE = "replace"
    ADD = "add"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """What a protocol needs to list a message without reading it."""

    uid: int
    #: Size in octets with CRLF line ends: exactly what ``Folder.read`` returns.
    size: int
    #: System flags (``\\Seen`` ...) and keywords; never ``\\Recent``.
    flags: frozenset[str]
    #: Seconds since the epoch (maildir file mtime, like Dovecot).
    internal_date: float
    #: Maildir unique name (the file name before ``:2,``); stable for the message's life.
    key: str
    #: RFC 7162 mod-sequence: raised past the folder's highest on every change
    #: (append, flag change, whoever made it); 0 only from stores without CONDSTORE.
    modseq: int = 0

    @property
    def save_date(self) -> float | None:
        """When the message was saved to its folder (IMAP SAVEDATE, RFC 8514): maildir
        unique names start with that second (``<sec>.M<usec>...``, ours and
        Dovecot's alike); None when this one does not."""
        head = self.key.split(".", 1)[0]
        return float(head) if head.isdigit() and len(head) <= 12 else None


@dataclass(frozen=True)
class Snapshot:
    """A consistent view of one folder at one moment, messages in ascending UID order."""

    uidvalidity: int
    uidnext: int
    messages: tuple[MessageInfo, ...]
    #: UIDs this caller claimed as ``\\Recent`` (only with ``snapshot(claim_recent=True)``).
    recent: frozenset[int] = field(default_factory=frozenset)
    #: Bumped on every change the store makes or detects; equal versions mean equal content.
    version: int = 0
    #: RFC 7162 HIGHESTMODSEQ: the largest mod-sequence any change (expunges
    #: included) was given. Never decreases while ``uidvalidity`` stays the same.
    highest_modseq: int = 0
    #: A permanent name of the folder that survives RENAME (IMAP OBJECTID's MAILBOXID,
    #: RFC 8474): the ``G`` field of the maildir's ``dovecot-uidlist``.
    mailbox_id: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_uids", [m.uid for m in self.messages])

    def with_recent(self, recent: frozenset[int]) -> Snapshot:
        """This snapshot with ``recent`` set; shares the message tuple and UID list,
        so each session that claims \\Recent does not hold its own copy of a big folder."""
        copy = object.__new__(Snapshot)
        copy.__dict__.update(self.__dict__)
        object.__setattr__(copy, "recent", recent)
        return copy

    def find(self, uid: int) -> MessageInfo | None:
        uids: list[int] = self._uids  # type: ignore[attr-defined]
        index = bisect.bisect_left(uids, uid)
        if index < len(uids) and uids[index] == uid:
            return self.messages[index]
        return None

    @property
    def uids(self) -> list[int]:
        """UIDs in ascending order. Shared (by views too): never change it in place."""
        return self._uids  # type: ignore[attr-defined]
