"""Every failure an IMAP client can see becomes a tagged response here, and only here.

Handlers raise :class:`ImapError` with the status, response code and text
they want; store failures arrive as :class:`StorageError` and are mapped by
:func:`storage_error_response` (RFC 5530 response codes, as Dovecot's
``imap_get_error_string`` does). Anything else is a bug: the session logs it
with its traceback and sends :data:`INTERNAL_ERROR`, never the exception text.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailserver.auth import LoginBlocked
from mailserver.storage import ErrorKind, StorageError


@dataclass(frozen=True)
class Response:
    """A tagged completion: ``<tag> <status> [<code>] <text>``."""

    status: str = "OK"
    text: str = "Completed"
    code: str | None = None

    def render(self, tag: str) -> bytes:
        code = f"[{self.code}] " if self.code else ""
        return f"{tag} {self.status} {code}{self.text}\r\n".encode()


class ImapError(Exception):
    """A ``NO`` or ``BAD`` for the client; BAD counts towards the bad-command limit."""

    def __init__(self, status: str, text: str, code: str | None = None) -> None:
        super().__init__(text)
        self.response = Response(status, text, code)


def no(text: str, code: str | None = None) -> ImapError:
    return ImapError("NO", text, code)


def bad(text: str, code: str | None = None) -> ImapError:
    return ImapError("BAD", text, code)


INTERNAL_ERROR = Response("NO", "Internal error", "SERVERBUG")


def login_blocked_response(exc: LoginBlocked) -> Response:
    """The login brake: RFC 5530 ``UNAVAILABLE`` (try later), not ``AUTHENTICATIONFAILED``."""
    text = exc.reason
    return Response("NO", text[:1].upper() + text[1:], "UNAVAILABLE")


_CODES: dict[ErrorKind, str] = {
    ErrorKind.NOT_FOUND: "NONEXISTENT",
    ErrorKind.EXISTS: "ALREADYEXISTS",
    ErrorKind.NO_PERMISSION: "CANNOT",
    ErrorKind.OVER_QUOTA: "OVERQUOTA",
    ErrorKind.IN_USE: "INUSE",
    ErrorKind.EXPUNGED: "EXPUNGEISSUED",
    ErrorKind.INVALID_NAME: "CANNOT",
    ErrorKind.TEMPORARY: "UNAVAILABLE",
    ErrorKind.NO_SPACE: "UNAVAILABLE",
}


def storage_error_response(exc: StorageError, *, target_missing: bool = False) -> Response:
    """Map a store failure to a tagged ``NO``.

    ``target_missing`` marks a COPY/APPEND whose destination does not exist:
    RFC 3501 6.3.11 wants ``[TRYCREATE]`` there so the client can offer to
    create the folder, instead of RFC 5530's ``[NONEXISTENT]``.
    """
    if exc.kind is ErrorKind.NOT_FOUND and target_missing:
        return Response("NO", "Mailbox does not exist", "TRYCREATE")
    return Response("NO", one_line(exc.message), _CODES.get(exc.kind))


def one_line(text: str) -> str:
    """A store message is safe to show but must not break the line-based protocol."""
    cleaned = " ".join(text.split())
    cleaned = "".join(c for c in cleaned if c.isprintable())
    return cleaned[:200] or "Operation failed"
