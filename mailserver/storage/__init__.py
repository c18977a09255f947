"""The mail store: protocol-agnostic folders and messages over maildir."""

from mailserver.storage.base import ChangeListener, Folder, Mailbox, MailStore
from mailserver.storage.errors import ErrorKind, StorageError
from mailserver.storage.model import (
    ANSWERED,
    DELETED,
    DELIMITER,
    DRAFT,
    FLAGGED,
    INBOX,
    SEEN,
    SYSTEM_FLAGS,
    FlagMode,
    MessageInfo,
    Snapshot,
)

__all__ = [
    "ANSWERED",
    "DELETED",
    "DELIMITER",
    "DRAFT",
    "FLAGGED",
    "INBOX",
    "SEEN",
    "SYSTEM_FLAGS",
    "ChangeListener",
    "ErrorKind",
    "FlagMode",
    "Folder",
    "MailStore",
    "Mailbox",
    "MessageInfo",
    "Snapshot",
    "StorageError",
]
