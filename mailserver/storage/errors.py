"""Store errors carry a kind; each protocol maps kinds to its replies in one place."""

from __future__ import annotations

import enum


class ErrorKind(enum.Enum):
    NOT_FOUND = "not found"
    EXISTS = "already exists"
    NO_PERMISSION = "no permission"
    OVER_QUOTA = "over quota"
    #: The disk (or a file-system quota) is full: the server's problem, not the user's.
    NO_SPACE = "no space left"
    IN_USE = "in use"
    EXPUNGED = "expunged"
    INVALID_NAME = "invalid name"
    TEMPORARY = "temporary failure"


class StorageError(Exception):
    """A failure the client may be told about; ``message`` is safe to put on the wire."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
