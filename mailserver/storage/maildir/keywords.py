"""Dovecot's ``dovecot-keywords`` file: which keyword each letter ``a``..``z`` stands for.

Format: one ``<index> <name>`` line per keyword, index 0..25 -> letter
``a``..``z`` in the ``:2,`` suffix. Sharing the file with Dovecot means
keywords survive a switch of server in either direction.
"""

from __future__ import annotations

import logging
import string
from dataclasses import dataclass, field

from mailserver.storage.errors import ErrorKind, StorageError

log = logging.getLogger(__name__)

FILE_NAME = "dovecot-keywords"
LETTERS = string.ascii_lowercase
MAX_KEYWORDS = len(LETTERS)


def check_keyword(name: str) -> None:
    """Keywords are IMAP atoms; anything else would corrupt the line-based file."""
    if not name or any(
        ord(char) <= 0x20 or ord(char) >= 0x7F or char in '(){%*"\\]' for char in name
    ):
        raise StorageError(ErrorKind.INVALID_NAME, "invalid keyword")


@dataclass
class Keywords:
    """Index -> keyword name for one folder."""

    names: dict[int, str] = field(default_factory=dict)
    #: Set when ``add`` assigned a slot that is not yet on disk.
    dirty: bool = False

    @classmethod
    def parse(cls, text: str) -> Keywords:
        """Lenient: a bad line is skipped, since losing one name beats losing all."""
        names: dict[int, str] = {}
        for line in text.splitlines():
            index_text, _, name = line.strip().partition(" ")
            if not index_text.isdigit() or not name:
                if line.strip():
                    log.warning("skipping bad dovecot-keywords line")
                continue
            index = int(index_text)
            if index < MAX_KEYWORDS:
                names[index] = name
        return cls(names)

    def serialize(self) -> str:
        return "".join(f"{index} {name}\n" for index, name in sorted(self.names.items()))

    def flag_of(self, letter: str) -> str | None:
        return self.names.get(LETTERS.index(letter))

    def letter_of(self, name: str) -> str | None:
        """IMAP keywords compare case-insensitively; the stored spelling wins."""
        lowered = name.lower()
        for index, existing in self.names.items():
            if existing.lower() == lowered:
                return LETTERS[index]
        return None

    def add_all(self, names: list[str]) -> list[str]:
        """Assign slots to new keywords, all or none; returns their letters.

        Checking room first matters: a refused request that had taken some
        slots would leave them taken (and soon saved) with no message using
        them, and the folder could never take another keyword.
        """
        for name in names:
            check_keyword(name)
        free = [index for index in range(MAX_KEYWORDS) if index not in self.names]
        if len(names) > len(free):
            raise StorageError(ErrorKind.NO_PERMISSION, "too many keywords")
        for index, name in zip(free, names, strict=False):
            self.names[index] = name
        if names:
            self.dirty = True
        return [LETTERS[index] for index in free[: len(names)]]
