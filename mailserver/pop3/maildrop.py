"""The maildrop a TRANSACTION works on: a snapshot of INBOX taken at login.

RFC 1939 numbers messages 1..n for the whole session and keeps the list
fixed, so mail delivered meanwhile appears at the next login, and DELE only
marks: the store is changed in the UPDATE state, after QUIT.
"""

from __future__ import annotations

from mailserver.pop3.errors import Pop3Error
from mailserver.storage import SEEN, Folder, MessageInfo, Snapshot


def uidl_of(uidvalidity: int, info: MessageInfo) -> str:
    """``<uidvalidity>.<uid>``: printable, short, and never reused in this mailbox (RFC 1939 7)."""
    return f"{uidvalidity}.{info.uid}"


class Maildrop:
    """Message numbers, sizes, unique ids and deletion marks of one session."""

    def __init__(self, folder: Folder, snapshot: Snapshot) -> None:
        self.folder = folder
        self.uidvalidity = snapshot.uidvalidity
        self.messages: tuple[MessageInfo, ...] = snapshot.messages
        self._deleted: set[int] = set()
        #: UIDs retrieved (RETR) and not yet \\Seen, marked in one go when the session ends.
        self._retrieved: set[int] = set()
        #: Texts of the next messages, read with an earlier one (``retr.py``): uid -> bytes.
        self._ahead: dict[int, bytes] = {}
        #: Number of the last message retrieved (0: none yet).
        self.last_retrieved = 0

    @property
    def count(self) -> int:
        """Messages not marked deleted (what STAT and LIST report)."""
        return len(self.messages) - len(self._deleted)

    @property
    def size(self) -> int:
        return sum(info.size for _, info in self.numbered())

    def numbered(self) -> list[tuple[int, MessageInfo]]:
        """``(message number, info)`` for every message not marked deleted."""
        return [
            (number, info)
            for number, info in enumerate(self.messages, start=1)
            if number not in self._deleted
        ]

    def get(self, number: int) -> MessageInfo:
        """The message with this number, or a ``Pop3Error`` saying why there is none."""
        total = len(self.messages)
        if not 1 <= number <= total:
            if total == 0:
                raise Pop3Error("-ERR no such message, the maildrop is empty")
            if total == 1:
                raise Pop3Error("-ERR no such message, only 1 message in maildrop")
            raise Pop3Error(f"-ERR no such message, only {total} messages in maildrop")
        if number in self._deleted:
            raise Pop3Error(f"-ERR message {number} already deleted")
        return self.messages[number - 1]

    def uidl(self, info: MessageInfo) -> str:
        return uidl_of(self.uidvalidity, info)

    def mark_deleted(self, number: int) -> None:
        self.get(number)
        self._deleted.add(number)

    def reset(self) -> None:
        """RSET: forget every deletion mark."""
        self._deleted.clear()

    def retrieved(self, info: MessageInfo) -> None:
        """RETR sent this message: it becomes ``\\Seen`` when the session ends."""
        if SEEN not in info.flags:
            self._retrieved.add(info.uid)

    def following(self, number: int, count: int, octets: int) -> list[MessageInfo]:
        """Message ``number`` and those after it not marked deleted, at most ``count``
        of them and ``octets`` together (the first counts too; none if it is bigger)."""
        out: list[MessageInfo] = []
        for index in range(number, len(self.messages) + 1):
            if index in self._deleted:
                continue
            info = self.messages[index - 1]
            if len(out) >= count or info.size > octets:
                break
            out.append(info)
            octets -= info.size
        return out

    def keep_ahead(self, texts: dict[int, bytes]) -> None:
        """Hold these texts (uid -> bytes) for the RETRs that follow; replaces the last."""
        self._ahead = texts

    def take_ahead(self, uid: int) -> bytes | None:
        return self._ahead.pop(uid, None)

    def take_unseen_retrieved(self, skip_deleted: bool) -> list[int]:
        """UIDs to mark ``\\Seen`` now, and forget; ``skip_deleted``: leave out those
        marked deleted (UPDATE has just expunged them)."""
        wanted = self._retrieved
        if skip_deleted:
            wanted = wanted - {self.messages[number - 1].uid for number in self._deleted}
        self._retrieved = set()
        return sorted(wanted)

    def deleted_uids(self) -> list[int]:
        return sorted(self.messages[number - 1].uid for number in self._deleted)
