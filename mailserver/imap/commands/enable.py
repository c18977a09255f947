"""ENABLE (RFC 5161): a client opts in to extensions that change what the server sends.

Extensions that need opting in (CONDSTORE, QRESYNC, UTF8=ACCEPT) live in
other modules; each registers itself here with :func:`register`, so this
module needs no knowledge of them. An enabler runs once, the first time the
client enables its extension, and may switch on others it implies (QRESYNC
implies CONDSTORE, RFC 7162 3.2.3) by calling :func:`enable` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mailserver.imap.errors import Response
from mailserver.imap.parser.extensions import Enable

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

Enabler = Callable[["ImapSession"], None]

#: Capability name (upper case) -> what to switch on in the session.
ENABLEABLE: dict[str, Enabler] = {}


def register(name: str, enabler: Enabler | None = None) -> None:
    """Make ``name`` enable-able; ``enabler`` (optional) adjusts the session when it is."""
    ENABLEABLE[name.upper()] = enabler or _nothing


def _nothing(session: ImapSession) -> None:
    return None


def enable(session: ImapSession, name: str) -> bool:
    """Switch ``name`` on for ``session``; False if unknown or already on.

    Only capabilities the session currently advertises can be enabled: a
    client must not get behaviour it was not offered.
    """
    name = name.upper()
    enabler = ENABLEABLE.get(name)
    if enabler is None or name in session.enabled:
        return False
    if name not in session.capabilities().upper().split():
        return False
    session.enabled.add(name)
    enabler(session)
    return True


async def enable_command(session: ImapSession, command: Enable) -> Response:
    # RFC 5161 3.1: unknown names are ignored; the ENABLED response lists what
    # this command switched on, of what the client asked for (RFC 7162 3.2.3's
    # example: ENABLE QRESYNC answers "* ENABLED QRESYNC", CONDSTORE comes silently).
    before = set(session.enabled)
    newly: list[str] = []
    for name in command.capabilities:
        enable(session, name)
        if name in session.enabled and name not in before and name not in newly:
            newly.append(name)
    await session.send(("* ENABLED" + "".join(" " + n for n in newly) + "\r\n").encode())
    return Response("OK", "Enable completed")
