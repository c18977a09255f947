"""UTF8=ACCEPT (RFC 6855), for mailbox names and messages with 8-bit headers.

What it covers, once a client has sent ``ENABLE UTF8=ACCEPT``:

* mailbox names go out as UTF-8 (quoted strings where possible) instead of
  modified UTF-7, in LIST/LSUB, STATUS and QUOTAROOT responses;
* mailbox names and LIST patterns coming in are taken as UTF-8 as sent, so
  ``R&D`` is a folder called ``R&D``, not a modified UTF-7 error;
* APPEND accepts the ``UTF8 (~{n}...)`` message form (RFC 6855 4), and any
  APPEND may carry 8-bit (UTF-8) header fields, stored as they are.

Not covered: ENVELOPE and BODYSTRUCTURE strings are rendered the same way
with or without it (8-bit text goes out as literals, which is valid either
way), and SEARCH keeps accepting CHARSET (RFC 6855 3 lets clients omit it).
Before ENABLE, non-ASCII names are sent in modified UTF-7 as RFC 3501 asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.imap import wire
from mailserver.imap.commands.enable import register
from mailserver.imap.parser.lexer import encode_mailbox

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

UTF8_ACCEPT = "UTF8=ACCEPT"

register(UTF8_ACCEPT)


def utf8_on(session: ImapSession) -> bool:
    return UTF8_ACCEPT in session.enabled


def mailbox_name(name: str, utf8: bool) -> bytes:
    """A store folder name as an IMAP ``mailbox`` on the wire."""
    return wire.utf8_astring(name) if utf8 else wire.astring(encode_mailbox(name))
