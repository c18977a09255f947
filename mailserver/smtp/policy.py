"""Who may send mail to whom: address parsing and recipient decisions.

Pure functions, no I/O: the handler asks, this module answers with an
accepted user or the exact reply to send. Addresses arrive as students type
them, so parsing is lenient about spacing and case but strict about anything
that could turn the server into a relay: source routes are stripped and the
final address judged (RFC 5321 3.6.1, C), the percent hack and bang paths are
never honoured, and a quoted local part is never unquoted into an address.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mailserver.smtp import replies

#: What aiosmtpd passes around for ``MAIL FROM:<>`` (the null reverse-path).
NULL_PATH = "<>"

#: RFC 5321 4.5.3.1.3: a path is at most 256 octets.
MAX_PATH_LENGTH = 256

_ROUTE_CHARACTERS = frozenset("%!@")
_SPECIALS = frozenset('<>()[]\\,;:"')
#: What :func:`_valid_unquoted_local` lets through: visible characters but the
#: specials (``@`` included). One regular expression instead of a Python step
#: per character: with :data:`_LABEL`, 2% of the SMTP event loop.
_UNQUOTED_LOCAL = re.compile(r'[^\x00-\x20\x7f<>()\[\]\\,;:"]+')
#: A domain label: ASCII letters, digits, ``-``, ``_``, or anything non-ASCII.
_LABEL = re.compile(r"[A-Za-z0-9_\-\u0080-\U0010ffff]{0,63}")


@dataclass(frozen=True)
class Address:
    """A parsed mailbox: ``local`` as typed (quotes kept), ``domain`` normalized or None."""

    local: str
    domain: str | None

    @property
    def quoted(self) -> bool:
        return self.local.startswith('"')

    def __str__(self) -> str:
        return self.local if self.domain is None else f"{self.local}@{self.domain}"


def parse_path(text: str) -> tuple[str, str] | None:
    """Split ``<path> params`` into (normalized address, params); None if malformed.

    Accepts ``<a@b>``, bare ``a@b``, ``<>`` (returned as :data:`NULL_PATH`),
    ``<Postmaster>`` without a domain and ``<@route,@route:a@b>`` (the route
    is dropped). Domains come back without a trailing dot.
    """
    text = text.strip()
    if text.startswith("<"):
        end = _closing_bracket(text)
        if end is None:
            return None
        inner, rest = text[1:end], text[end + 1 :].strip()
    else:
        inner, _, rest = text.partition(" ")
        rest = rest.strip()
    if inner == "":
        return NULL_PATH, rest
    if len(inner) > MAX_PATH_LENGTH:
        return None
    address = parse_mailbox(_strip_source_route(inner))
    return (str(address), rest) if address is not None else None


def _closing_bracket(text: str) -> int | None:
    """Index of the ``>`` closing a path, skipping quoted strings."""
    in_quotes = escaped = False
    for index, char in enumerate(text[1:], start=1):
        if escaped:
            escaped = False
        elif char == "\\" and in_quotes:
            escaped = True
        elif char == '"':
            in_quotes = not in_quotes
        elif char == ">" and not in_quotes:
            return index
    return None


def _strip_source_route(inner: str) -> str:
    """``@a,@b:user@c`` -> ``user@c``; a malformed route leaves text that fails to parse."""
    if not inner.startswith("@"):
        return inner
    route, colon, rest = inner.partition(":")
    if not colon or not all(
        hop.startswith("@") and _normalize_domain(hop[1:]) is not None for hop in route.split(",")
    ):
        return "\0"  # never a valid mailbox
    return rest


def parse_mailbox(text: str) -> Address | None:
    """``local@domain`` or a bare ``local`` -> :class:`Address`; None if malformed."""
    if text.startswith('"'):
        end = _closing_quote(text)
        if end is None:
            return None
        local, after = text[: end + 1], text[end + 1 :]
        if after == "":
            return Address(local, None)
        if not after.startswith("@"):
            return None
        domain_text: str | None = after[1:]
    else:
        local, at, domain_text = text.rpartition("@")
        if not at:
            local, domain_text = text, None
        if not _valid_unquoted_local(local):
            return None
    if domain_text is None:
        return Address(local, None)
    domain = _normalize_domain(domain_text)
    return Address(local, domain) if domain is not None else None


def _closing_quote(text: str) -> int | None:
    escaped = False
    for index, char in enumerate(text[1:], start=1):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return index
        elif ord(char) < 32 or ord(char) == 127:
            return None
    return None


def _valid_unquoted_local(local: str) -> bool:
    """Dot-string, leniently: any visible character but specials; ``@`` is let through
    so that ``user@remote@local`` reaches the relay check instead of vanishing."""
    if not local:
        return False
    return _UNQUOTED_LOCAL.fullmatch(local) is not None


def _normalize_domain(text: str) -> str | None:
    """One trailing dot dropped; case kept as typed (it is compared case-insensitively)."""
    if text.startswith("[") and text.endswith("]") and len(text) > 2:
        inner = text[1:-1]
        return text if all(c.isalnum() or c in ".:-" for c in inner) else None
    if text.endswith("."):
        text = text[:-1]
    labels = text.split(".")
    if not text or any(not label or not _valid_label(label) for label in labels):
        return None
    return text


def _valid_label(label: str) -> bool:
    return _LABEL.fullmatch(label) is not None


# --------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Accept:
    """Deliver to ``user``'s mailbox, or relay when ``user`` is None (a remote
    address); ``address`` is the recipient as given (normalized)."""

    user: str | None
    address: str


@dataclass(frozen=True)
class Reject:
    reply: str


Decision = Accept | Reject


@dataclass(frozen=True)
class RecipientPolicy:
    """What the recipient check needs to know about the site."""

    is_local_domain: Callable[[str], bool]
    #: login/address -> canonical user (``Authenticator.resolve``)
    resolve: Callable[[str], str | None]
    #: the account that receives postmaster mail (``Config.postmaster``)
    postmaster: str

    def decide(self, address: str, authenticated: bool, trusted: bool = False) -> Decision:
        """``trusted``: the client is in ``relay.networks`` and may relay without AUTH."""
        if address == NULL_PATH:
            return Reject(replies.NULL_RECIPIENT)
        parsed = parse_mailbox(address)
        if parsed is None:
            return Reject(replies.BAD_RECIPIENT_ADDRESS)
        if parsed.domain is not None and not self.is_local_domain(parsed.domain):
            # A remote domain: only authenticated or trusted clients may relay, and
            # only to a plain address (no quoted local part hiding a route).
            if not (authenticated or trusted):
                return Reject(replies.RELAY_DENIED)
            if parsed.domain.startswith("[") or (
                not parsed.quoted and any(c in _ROUTE_CHARACTERS for c in parsed.local)
            ):
                return Reject(replies.RELAY_DENIED)
            return Accept(None, address)
        return self._decide_local(parsed, address)

    def _decide_local(self, parsed: Address, address: str) -> Decision:
        local: str | None = parsed.local
        if parsed.quoted:
            local = _unquote(parsed.local)
        if local is None:
            return Reject(replies.user_unknown(address))
        if local.lower() == "postmaster":
            return Accept(self.postmaster, address)
        user = self.resolve(local if parsed.domain is None else f"{local}@{parsed.domain}")
        if user is not None:
            return Accept(user, address)
        if not parsed.quoted and any(c in _ROUTE_CHARACTERS for c in local):
            # user%remote@local, remote!user@local, user@remote@local: relay attempts.
            return Reject(replies.RELAY_DENIED)
        return Reject(replies.user_unknown(address))

    def owns(self, user: str, sender: str) -> bool:
        """Whether ``sender`` is one of ``user``'s addresses: the user name or an
        alias at any served domain, compared case-insensitively. The null sender
        and addresses without a domain belong to nobody."""
        if sender == NULL_PATH:
            return False
        parsed = parse_mailbox(sender)
        if parsed is None or parsed.domain is None or not self.is_local_domain(parsed.domain):
            return False
        local = _unquote(parsed.local) if parsed.quoted else parsed.local
        if local is None:
            return False
        return self.resolve(f"{local}@{parsed.domain}") == user


def _unquote(quoted: str) -> str | None:
    """``"a.b"`` -> ``a.b`` when the content is an ordinary local part, else None.

    RFC 5321 makes ``"a"@x`` and ``a@x`` the same mailbox; anything needing
    the quotes (``"user@remote"``) names no account of ours.
    """
    content = quoted[1:-1]
    if "\\" in content or not content:
        return None
    if any(c in _ROUTE_CHARACTERS or c in _SPECIALS or c.isspace() for c in content):
        return None
    return content


def parse_sender(address: str) -> str | None:
    """The reverse-path to record: ``""`` for the null sender, None if unusable."""
    if address == NULL_PATH:
        return ""
    parsed = parse_mailbox(address)
    return None if parsed is None else str(parsed)
