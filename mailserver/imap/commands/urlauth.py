"""GENURLAUTH, RESETKEY and URLFETCH (RFC 4467); keys and checks are in ``mailserver/urlauth.py``.

GENURLAUTH signs URLs of the user's own messages only; the message must exist
when the URL is made (as Dovecot checks). URLFETCH answers every URL, with
``NIL`` for one that is invalid, expired, not for this user or names nothing
(RFC 4467 9.3: the command itself still succeeds). An IMAP session may use
``user+<itself>``, ``authuser`` and ``anonymous`` URLs; ``submit+`` ones are
for BURL on the submission port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.imap import wire
from mailserver.imap.catenate import bad_url, extract_section
from mailserver.imap.errors import Response, no
from mailserver.imap.parser.urlauth import GenUrlAuth, ResetKey, UrlFetch
from mailserver.imapurl import BadUrl
from mailserver.storage import StorageError
from mailserver.urlauth import INTERNAL, AccessKeys, fetch_message, parse_authorized, token, verify

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession


def keys_of(session: ImapSession) -> AccessKeys:
    return AccessKeys.under(session.config.data_dir)


async def genurlauth(session: ImapSession, command: GenUrlAuth) -> Response:
    assert session.mailbox is not None and session.user is not None
    out = []
    for rump, mechanism in command.requests:
        if mechanism != INTERNAL:
            raise no(f"Unknown URLAUTH mechanism {mechanism[:30]}")
        try:
            auth = parse_authorized(rump)
        except BadUrl:
            raise bad_url(rump) from None
        if auth.token is not None or auth.url.user != session.user:
            raise bad_url(rump)
        try:
            folder = await session.mailbox.folder(auth.url.mailbox)
            snapshot = await folder.snapshot()
        except StorageError:
            raise bad_url(rump) from None
        if auth.url.uidvalidity != snapshot.uidvalidity or snapshot.find(auth.url.uid) is None:
            raise bad_url(rump)
        key = await keys_of(session).key(session.user, auth.url.mailbox, create=True)
        assert key is not None
        out.append(wire.string(f"{rump}:internal:{token(key, auth.rump)}"))
    await session.send(b"* GENURLAUTH " + b" ".join(out) + b"\r\n")
    return Response("OK", "GENURLAUTH completed")


async def resetkey(session: ImapSession, command: ResetKey) -> Response:
    assert session.mailbox is not None and session.user is not None
    if any(mechanism != INTERNAL for mechanism in command.mechanisms):
        raise no("Unknown URLAUTH mechanism")
    if command.mailbox is not None:
        await session.mailbox.folder(command.mailbox)  # NONEXISTENT if it is not there
    await keys_of(session).reset(session.user, command.mailbox)
    return Response("OK", "RESETKEY completed")


async def urlfetch(session: ImapSession, command: UrlFetch) -> Response:
    keys = keys_of(session)
    for text in command.urls:
        data: bytes | None
        try:
            url = await verify(keys, text, user=session.user, submission=False)
            assert url.user is not None
            data = await fetch_message(session.store, url.user, url, extract_section)
        except BadUrl:
            data = None
        value = b"NIL" if data is None else b"{%d}\r\n" % len(data) + data
        session.write(b"* URLFETCH " + wire.string(text) + b" " + value + b"\r\n")
        await session.drain()
    return Response("OK", "URLFETCH completed")
