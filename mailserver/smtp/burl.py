"""BURL (RFC 4468): the message, or part of it, comes from an IMAP URL instead of DATA.

A client that saved its draft over IMAP asks for a URLAUTH URL
(``GENURLAUTH ...;URLAUTH=submit+fred INTERNAL``) and sends ``BURL <url> LAST``
here after MAIL and RCPT: the message is read from the store, not uploaded a
second time. Several BURLs (and BDAT chunks, RFC 4468 3) build one message;
the one with ``LAST`` submits it. The octets go into the same spool upload as
DATA and BDAT (``upload.py``), copied from the message file in chunks.

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

from mailserver.imapurl import BadUrl
from mailserver.smtp import replies
from mailserver.storage import StorageError
from mailserver.urlauth import AccessKeys, message_chunks, verify

if TYPE_CHECKING:
    from mailserver.smtp.protocol import LabSMTP

CAPABILITY = "BURL imap"
SYNTAX = "501 5.5.4 Syntax: BURL imap-url [LAST]"
NEEDS_AUTH = "530 5.7.0 Authentication required"
RESOLUTION_FAILED = "554 5.6.6 IMAP URL resolution failed"
MORE = "250 2.5.0 Waiting for additional BURL or BDAT commands"


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
    if envelope.upload is None:
        envelope.upload = smtp.start_upload()
        if envelope.upload is None:
            await smtp.push(replies.UPLOADS_BUSY)
            return
    upload = envelope.upload
    limit = smtp.data_size_limit or 0
    config = smtp.services.config
    try:
        url = await verify(
            AccessKeys.under(config.data_dir), words[0], user=session.user, submission=True
        )
        assert url.user is not None
        async for chunk in message_chunks(smtp.services.store, url.user, url):
            if limit and upload.received + len(chunk) > limit:
                smtp.end_transaction()
                await smtp.push(replies.MESSAGE_TOO_BIG)
                return
            await upload.write((chunk,))
    except (BadUrl, StorageError):
        smtp.end_transaction()
        await smtp.push(RESOLUTION_FAILED)
        return
    if len(words) == 1:
        await smtp.push(MORE)
        return
    envelope.upload = None
    with upload:
        await smtp.deliver_upload(upload)
