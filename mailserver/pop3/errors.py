"""Every failure a POP3 client can see is turned into a reply here, and only here.

Handlers raise :class:`Pop3Error` with the reply they want; store failures
arrive as :class:`StorageError` and are mapped by :func:`storage_error_reply`.
Anything else is a bug: it is logged with its traceback and the client gets
:data:`INTERNAL_ERROR`, never the exception text.
"""

from __future__ import annotations

from mailserver.auth import LoginBlocked
from mailserver.storage import ErrorKind, StorageError

INTERNAL_ERROR = "-ERR [SYS/TEMP] internal server error, please try again later"
EXPUNGED_ELSEWHERE = "-ERR message was deleted by another session"


class Pop3Error(Exception):
    """A negative reply for the client; ``bad`` counts it towards the bad-command limit."""

    def __init__(self, reply: str, *, bad: bool = False) -> None:
        super().__init__(reply)
        self.reply = reply
        self.bad = bad


def login_blocked_reply(exc: LoginBlocked) -> str:
    """The login brake: temporary (RFC 3206 ``SYS/TEMP``), not a wrong password."""
    return f"-ERR [SYS/TEMP] {exc.reason}"


def storage_error_reply(exc: StorageError) -> str:
    """Map a store failure to a ``-ERR`` line (RFC 2449 response codes where one fits)."""
    if exc.kind is ErrorKind.EXPUNGED:
        return EXPUNGED_ELSEWHERE
    if exc.kind is ErrorKind.IN_USE:
        return "-ERR [IN-USE] mailbox already locked"
    if exc.kind in (ErrorKind.NO_PERMISSION, ErrorKind.NOT_FOUND):
        return f"-ERR [SYS/PERM] {_one_line(exc.message)}"
    return f"-ERR [SYS/TEMP] {_one_line(exc.message)}"


def _one_line(text: str) -> str:
    """A store message is safe to show but must not break the line-based protocol."""
    cleaned = " ".join(text.split())
    return cleaned[:200] or "mailbox unavailable"
