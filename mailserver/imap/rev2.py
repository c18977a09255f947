"""IMAP4rev2 (RFC 9051), advertised beside IMAP4rev1 and switched on per session
with ``ENABLE IMAP4rev2`` (RFC 9051 6.3.1). Until then a client gets IMAP4rev1.

What changes once it is on (RFC 9051 appendix E):

* no ``\\Recent``: SELECT, EXAMINE and new mail send no ``* n RECENT`` and FETCH
  FLAGS never shows the flag (the store still tracks it for IMAP4rev1 sessions);
* ``SEARCH`` without ``RETURN`` answers with ``* ESEARCH (TAG ...) ALL ...``
  (RFC 9051 6.4.4), never the old ``* SEARCH`` line;
* mailbox names are UTF-8 in both directions: enabling IMAP4rev2 enables
  UTF8=ACCEPT too (RFC 9051 5.1, as QRESYNC implies CONDSTORE), so LIST,
  STATUS and the rest send ``Entwürfe`` instead of ``Entw&APw-rfe``;
* BODY and BODYSTRUCTURE carry RFC 2231 parameters decoded (RFC 9051 7.5.2):
  ``"FILENAME" "€.pdf"``, not ``"FILENAME*" "utf-8''%E2%82%AC.pdf"``.

Everything else IMAP4rev2 requires is what this server does for IMAP4rev1
clients as well: LIST follows the LIST-EXTENDED rules (RFC 5258, RFC 9051
6.3.9: ``\\HasChildren``/``\\HasNoChildren``, ``\\NonExistent``, ``\\Subscribed``),
and BINARY, ESEARCH, LITERAL-, MOVE, UIDPLUS, UNSELECT, NAMESPACE,
SPECIAL-USE, LIST-STATUS, ID and IDLE are always offered.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from mailserver.imap.commands.enable import enable, register
from mailserver.imap.mime import MessageCache
from mailserver.imap.mime.message import Structure
from mailserver.imap.mime.render import bodystructure_decoded
from mailserver.imap.mime.section import Section
from mailserver.imap.mime.structure import parse_message
from mailserver.imap.utf8 import UTF8_ACCEPT
from mailserver.storage import MessageInfo

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession
    from mailserver.imap.view import SelectedView

IMAP4REV2 = "IMAP4REV2"


def rev2_on(session: ImapSession) -> bool:
    return IMAP4REV2 in session.enabled


def _on_rev2(session: ImapSession) -> None:
    enable(session, UTF8_ACCEPT)
    if session.view is not None:
        session.view.rev2 = True


register(IMAP4REV2, _on_rev2)

#: How an RFC 2231 parameter shows in a rendered BODYSTRUCTURE: ``"NAME*" "``.
_ENCODED_PARAMETER = b'*" "'


def needs_decoding(view: SelectedView, rendered: bytes) -> bool:
    """This IMAP4rev2 view must see ``rendered`` (a BODY/BODYSTRUCTURE) with its
    RFC 2231 parameters decoded: the message is parsed again for it."""
    return view.rev2 and _ENCODED_PARAMETER in rendered


async def bodystructure(
    view: SelectedView,
    cache: MessageCache,
    info: MessageInfo,
    parsed: Structure,
    extended: bool,
) -> bytes:
    """BODY/BODYSTRUCTURE for this view: decoded RFC 2231 parameters under IMAP4rev2.

    The cache keeps the IMAP4rev1 rendering (Dovecot's encoded ``NAME*`` form);
    only a message that has such a parameter is parsed again, for rev2 sessions.
    """
    rendered = parsed.bodystructure(extended)
    if not needs_decoding(view, rendered):
        return rendered
    data = await cache.section(view.folder, info, Section())
    root = await asyncio.to_thread(parse_message, data)
    return bodystructure_decoded(root, extended)
