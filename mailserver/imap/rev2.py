"""IMAP4rev2 (RFC 9051), advertised beside IMAP4rev1 and switched on per session
with ``ENABLE IMAP4rev2`` (RFC 9051 6.3.1). Until then a client gets IMAP4rev1.

What changes once it is on (RFC 9051 appendix E):

* no ``\\Recent``: SELECT, EXAMINE and new mail send no ``* n RECENT`` and FETCH
  FLAGS never shows the flag (the store still tracks it for IMAP4rev1 sessions);
* ``SEARCH`` without ``RETURN`` answers with ``* ESEARCH (TAG ...) ALL ...``
  (RFC 9051 6.4.4), never the old ``* SEARCH`` line;
* mailbox names are UTF-8 in both directions: enabling IMAP4rev2 enables
  UTF8=ACCEPT too (RFC 9051 5.1, as QRESYNC implies CONDSTORE), so LIST,
  STATUS and the rest send ``Entwürfe`` instead of ``Entw&APw-rfe``.

Everything else IMAP4rev2 requires is what this server does for IMAP4rev1
clients as well: LIST follows the LIST-EXTENDED rules (RFC 5258, RFC 9051
6.3.9: ``\\HasChildren``/``\\HasNoChildren``, ``\\NonExistent``, ``\\Subscribed``),
and BINARY, ESEARCH, LITERAL-, MOVE, UIDPLUS, UNSELECT, NAMESPACE,
SPECIAL-USE, LIST-STATUS, ID and IDLE are always offered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.imap.commands.enable import enable, register
from mailserver.imap.utf8 import UTF8_ACCEPT

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

IMAP4REV2 = "IMAP4REV2"


def rev2_on(session: ImapSession) -> bool:
    return IMAP4REV2 in session.enabled


def _on_rev2(session: ImapSession) -> None:
    enable(session, UTF8_ACCEPT)
    if session.view is not None:
        session.view.rev2 = True


register(IMAP4REV2, _on_rev2)
