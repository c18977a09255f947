"""Folder and user names: API form (``A/B``, Unicode) <-> Maildir++ form (``.A.B``, mUTF-7).

Maildir++ (Courier, Dovecot's default layout) keeps every folder as a flat
``.``-prefixed directory in the user's maildir, with ``.`` as the hierarchy
separator on disk. That is why a ``.`` inside a component cannot be stored:
``A.B`` would come back as ``A/B``. We reject it rather than invent an escape
no other maildir reader would understand.
"""

from __future__ import annotations

from mailserver import mutf7
from mailserver.storage.errors import ErrorKind, StorageError
from mailserver.storage.model import DELIMITER, INBOX

#: Longest on-disk directory name most file systems accept.
_MAX_DIR_NAME = 255


def _invalid(message: str) -> StorageError:
    return StorageError(ErrorKind.INVALID_NAME, message)


def check_user(user: str) -> str:
    """Refuse user names that could escape the store root or hide as dot files."""
    if not user or "/" in user or "\\" in user or ".." in user or user.startswith("."):
        raise _invalid("invalid user name")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in user):
        raise _invalid("invalid user name")
    return user


def canonical(name: str, for_create: bool = False) -> str:
    """Validate an API folder name and spell INBOX canonically (also as a prefix).

    ``for_create`` additionally refuses the IMAP LIST wildcards, which would
    make the folder impossible to list on its own (Dovecot does the same).
    """
    if not name:
        raise _invalid("empty folder name")
    if name.startswith(DELIMITER) or name.endswith(DELIMITER):
        raise _invalid("folder name must not start or end with '/'")
    parts = name.split(DELIMITER)
    for part in parts:
        if not part:
            raise _invalid("folder name has an empty level")
        if "." in part:
            raise _invalid("'.' is not allowed in folder names (maildir hierarchy separator)")
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in part):
            raise _invalid("control characters are not allowed in folder names")
        if for_create and ("*" in part or "%" in part):
            raise _invalid("'*' and '%' are not allowed in folder names")
    if parts[0].upper() == INBOX:
        parts[0] = INBOX
    return DELIMITER.join(parts)


def is_inbox(name: str) -> bool:
    return name == INBOX


def to_dir(name: str) -> str:
    """On-disk directory name of a canonical non-INBOX folder: ``A/B`` -> ``.A.B``."""
    try:
        encoded = [mutf7.encode(part) for part in name.split(DELIMITER)]
    except ValueError:
        raise _invalid("folder name is not valid Unicode") from None
    dirname = "." + ".".join(encoded)
    if len(dirname.encode("ascii")) > _MAX_DIR_NAME:
        raise _invalid("folder name too long")
    return dirname


def from_dir(dirname: str) -> str | None:
    """API name of an on-disk directory, or None if it is not a folder we can name."""
    if not dirname.startswith(".") or dirname in (".", ".."):
        return None
    parts = dirname[1:].split(".")
    if any(not part for part in parts):
        return None  # "..x" (trash, Dovecot's ..DOVECOT-TRASH) or "a..b"
    try:
        decoded = [mutf7.decode(part) for part in parts]
    except ValueError:
        return None
    try:
        name = canonical(DELIMITER.join(decoded))
        if name == INBOX:
            return None  # ".INBOX" would shadow the real INBOX at the maildir root
        if to_dir(name) != dirname:
            return None  # e.g. ".inbox.x": we would open ".INBOX.x" under that name
    except StorageError:
        return None
    return name
