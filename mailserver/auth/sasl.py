"""Protocol-neutral SASL pieces shared by SMTP AUTH, POP3 AUTH and IMAP AUTHENTICATE.

Each protocol frames challenges and responses its own way (``334``, ``+``,
``+ ``) and handles the ``*`` cancel itself; everything between the framing
and the :class:`~mailserver.auth.authenticator.Authenticator` lives here, so
the three protocols decode a student's hand-typed base64 identically.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time

#: Mechanisms we implement. CRAM-MD5 needs a stored plaintext-equivalent
#: secret, so it is only offered when the site opted in (see :func:`mechanism_names`).
MECHANISMS: tuple[str, ...] = ("PLAIN", "LOGIN", "CRAM-MD5")

#: AUTH LOGIN's prompts (draft-murchison-sasl-login): base64 of "Username:" / "Password:".
LOGIN_USERNAME_CHALLENGE = "VXNlcm5hbWU6"
LOGIN_PASSWORD_CHALLENGE = "UGFzc3dvcmQ6"

_HEX_DIGEST_RE = re.compile(r"[0-9a-fA-F]{32}")


class SaslError(Exception):
    """A malformed client response; ``message`` is safe to send to the client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def mechanism_names(with_cram: bool) -> list[str]:
    """Mechanisms to advertise; CRAM-MD5 only if users may have plain secrets."""
    return [m for m in MECHANISMS if with_cram or m != "CRAM-MD5"]


def decode_base64(text: str) -> bytes:
    """Strictly decode one client response.

    Strict because a student typing plain text where base64 is expected must
    get a clean error, not whatever bytes a lenient decoder salvages.
    ``=`` is the empty response (RFC 4954, 5034, 4959); an empty line is
    treated the same. Surrounding blanks, easy to type by hand, are ignored.
    """
    stripped = text.strip(" \t\r\n")
    if stripped in ("", "="):
        return b""
    try:
        return binascii.a2b_base64(stripped.encode("ascii"), strict_mode=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise SaslError("invalid base64") from None


def encode_base64(data: bytes) -> str:
    """Base64 for a server challenge, on one line (no embedded newlines)."""
    return base64.b64encode(data).decode("ascii")


def _utf8(part: bytes, what: str) -> str:
    try:
        return part.decode("utf-8")
    except UnicodeDecodeError:
        raise SaslError(f"{what} is not valid UTF-8") from None


def parse_plain(response: bytes) -> tuple[str, str, str]:
    """Split a PLAIN response (RFC 4616) into ``(authzid, authcid, password)``.

    ``[authzid] NUL authcid NUL passwd``: exactly three parts, UTF-8, and the
    authcid and password must not be empty. An empty authzid means "act as
    the authcid"; deciding whether a non-empty one is allowed is the caller's
    job (we allow nothing but the user's own identity).
    """
    parts = response.split(b"\0")
    if len(parts) != 3:
        raise SaslError("PLAIN response must be authzid NUL authcid NUL password")
    authzid, authcid, password = (
        _utf8(parts[0], "authorization identity"),
        _utf8(parts[1], "user name"),
        _utf8(parts[2], "password"),
    )
    if not authcid:
        raise SaslError("empty user name")
    if not password:
        raise SaslError("empty password")
    return authzid, authcid, password


def make_cram_md5_challenge(hostname: str) -> bytes:
    """A fresh ``<random.timestamp@hostname>`` challenge (RFC 2195), never reused."""
    return f"<{secrets.randbelow(10**10)}.{int(time.time())}@{hostname}>".encode()


def parse_cram_md5(response: bytes) -> tuple[str, str]:
    """Split a CRAM-MD5 response ``user SP 32-hex-digest`` into ``(user, lower-case digest)``."""
    text = _utf8(response, "CRAM-MD5 response")
    user, sep, digest = text.rpartition(" ")
    if not sep or not user or not _HEX_DIGEST_RE.fullmatch(digest):
        raise SaslError("CRAM-MD5 response must be: user name, space, 32 hex digits")
    return user, digest.lower()
