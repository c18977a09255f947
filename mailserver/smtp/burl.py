"""BURL (RFC 4468): the message, or part of it, comes from an IMAP URL instead of DATA.

A client that saved its draft over IMAP asks for a URLAUTH URL
(``GENURLAUTH ...;URLAUTH=submit+fred INTERNAL``) and sends ``BURL <url> LAST``
here after MAIL and RCPT: the message is read from the store, not uploaded a
second time. Several BURLs build one message, the one with ``LAST`` submits it.

Offered as ``BURL imap`` on the submission listener, to authenticated users.
The URL must be a URLAUTH URL this server signed whose access identifier
allows submission for the logged-in user (``submit+<user>``, ``authuser``,
``anonymous``: :func:`mailserver.urlauth.may_use`). Resolution goes through
the protocol-neutral ``mailserver/urlauth.py``, never the IMAP package; a URL
naming a ``SECTION`` is refused (no MIME parser on this side). A BURL that
fails discards the transaction (RFC 4468 3), as a failed DATA does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiosmtpd.smtp import MISSING

from mailserver.imapurl import BadUrl
from mailserver.smtp import replies
from mailserver.urlauth import AccessKeys, fetch_message, verify

if TYPE_CHECKING:
    from mailserver.smtp.protocol import LabSMTP

CAPABILITY = "BURL imap"
SYNTAX = "501 5.5.4 Syntax: BURL imap-url [LAST]"
NEEDS_AUTH = "530 5.7.0 Authentication required"
RESOLUTION_FAILED = "554 5.6.6 IMAP URL resolution failed"
MORE = "250 2.5.0 Waiting for additional BURL commands"


async def burl(smtp: LabSMTP, arg: str | None) -> None:
    if await smtp.check_helo_needed() or await smtp.check_auth_needed("BURL"):
        return
    session, envelope = smtp.session, smtp.envelope
    assert session is not None and envelope is not None
    if session.user is None:
        await smtp.push(NEEDS_AUTH)
        return
    if not envelope.rcpt_tos:
        await smtp.push("503 5.5.1 Error: need RCPT command")
        return
    words = (arg or "").split()
    if not 1 <= len(words) <= 2 or (len(words) == 2 and words[1].upper() != "LAST"):
        await smtp.push(SYNTAX)
        return
    config = smtp.services.config
    try:
        url = await verify(
            AccessKeys.under(config.data_dir), words[0], user=session.user, submission=True
        )
        assert url.user is not None
        data = await fetch_message(smtp.services.store, url.user, url)
    except BadUrl:
        smtp.end_transaction()
        await smtp.push(RESOLUTION_FAILED)
        return
    envelope.burl_parts.append(data)
    if sum(len(part) for part in envelope.burl_parts) > (smtp.data_size_limit or 0):
        smtp.end_transaction()
        await smtp.push(replies.MESSAGE_TOO_BIG)
        return
    if len(words) == 1:
        await smtp.push(MORE)
        return
    content = b"".join(envelope.burl_parts)
    envelope.content = envelope.original_content = content
    status = await smtp.deliver()
    smtp.end_transaction()
    await smtp.push(replies.OK if status is MISSING else status)
