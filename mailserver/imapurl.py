"""IMAP URLs (RFC 5092) naming one message or part of one in a user's store.

Protocol-neutral on purpose: IMAP's CATENATE (RFC 4469) and, later, SMTP's
BURL (RFC 4468) both take such a URL, and SMTP must not import the IMAP
package. Only the forms that name a message are accepted (``;UID=`` present),
absolute (``imap://user@host/INBOX;UIDVALIDITY=1/;UID=2``) or relative to the
server (``/INBOX;UIDVALIDITY=1/;UID=2/;SECTION=1.2``); a list or search URL
raises :class:`BadUrl`. Mailbox names are UTF-8, %-escaped (RFC 5092 3.2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

#: Longer than any URL a client needs; a longer one is refused, not parsed.
MAX_URL = 4096
_ABSOLUTE = re.compile(
    r"imap://(?:(?P<user>[^@;/]*)(?:;AUTH=[^@/]*)?@)?(?P<host>[^/]*)(?P<path>/.*)", re.I
)
_PATH = re.compile(
    r"/(?P<mailbox>[^;/?]*(?:/[^;/?]+)*?)"
    r"(?:;UIDVALIDITY=(?P<uidvalidity>[1-9][0-9]{0,9}))?"
    r"/;UID=(?P<uid>[1-9][0-9]{0,9})"
    r"(?:/;SECTION=(?P<section>[^/;]+))?"
    r"(?:/;PARTIAL=(?P<start>[0-9]{1,10})(?:\.(?P<length>[1-9][0-9]{0,9}))?)?"
    r"(?P<rest>;.*)?",
    re.I,
)


class BadUrl(ValueError):
    """Not an IMAP URL naming a message (``NO [BADURL url]`` in IMAP)."""


@dataclass(frozen=True)
class ImapUrl:
    #: None for a relative URL (the session's own user).
    user: str | None
    host: str | None
    mailbox: str
    uidvalidity: int | None
    uid: int
    #: The ``SECTION`` as in FETCH ``BODY[...]`` (``1.2``, ``HEADER``), %-decoded.
    section: str | None
    partial: tuple[int, int | None] | None
    #: Anything after the message part (``;EXPIRE=...;URLAUTH=...``), kept for URLAUTH.
    rest: str = ""


def parse_imap_url(text: str) -> ImapUrl:
    if len(text) > MAX_URL:
        raise BadUrl("URL too long")
    user = host = None
    path = text
    absolute = _ABSOLUTE.fullmatch(text)
    if absolute is not None:
        user = unquote(absolute.group("user")) if absolute.group("user") else None
        host = absolute.group("host")
        path = absolute.group("path")
    elif not text.startswith("/") or text.startswith("//"):
        raise BadUrl("Not an IMAP URL")
    match = _PATH.fullmatch(path)
    if match is None or not match.group("mailbox"):
        raise BadUrl("The URL does not name a message")
    try:
        mailbox = unquote(match.group("mailbox"), errors="strict")
    except UnicodeDecodeError:
        raise BadUrl("Mailbox name is not UTF-8") from None
    if mailbox.upper() == "INBOX" or mailbox.upper().startswith("INBOX/"):
        mailbox = "INBOX" + mailbox[5:]
    partial = None
    if match.group("start") is not None:
        length = match.group("length")
        partial = (int(match.group("start")), int(length) if length else None)
    section = match.group("section")
    uidvalidity = match.group("uidvalidity")
    return ImapUrl(
        user=user,
        host=host,
        mailbox=mailbox,
        uidvalidity=int(uidvalidity) if uidvalidity else None,
        uid=int(match.group("uid")),
        section=unquote(section) if section else None,
        partial=partial,
        rest=match.group("rest") or "",
    )
