"""The aiosmtpd handler: envelope checks at MAIL/RCPT, local delivery at DATA.

aiosmtpd has already parsed the command when a hook runs; the hooks ask
``policy`` what to do and the store to do it, and return the reply text.
``250`` after DATA is sent only once every recipient's copy is on disk
(``Folder.append_file`` returns after fsync); the message arrives as a spool
file (``storage.spool``) and each copy is its own trace fields and completed
header followed by the body copied from that file; any failure gives ``451`` and the
client keeps the message. Store errors are mapped to replies here and only
here (:func:`failure_reply`); their text never reaches the client.

Quotas (RFC 9208 limits kept by the store): a recipient whose mailbox is
already full is refused at RCPT with ``452 4.2.2`` (the sender retries
later, the other recipients are unaffected); a message that does not fit
a recipient's remaining room is refused at DATA with ``552 5.2.2`` before
any copy is written, because one DATA reply covers every recipient and a
partial delivery could not be reported.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

from mailserver.services import Services
from mailserver.smtp import message, replies
from mailserver.smtp.policy import RecipientPolicy, Reject, parse_sender
from mailserver.smtp.state import LabEnvelope, LabSession
from mailserver.storage import INBOX, ErrorKind, Mailbox, StorageError
from mailserver.storage.spool import SpooledMessage

log = logging.getLogger("mailserver.smtp")


def new_queue_id() -> str:
    """12 upper-case hex digits: short enough to read out, random enough not to repeat."""
    return secrets.token_hex(6).upper()


class DeliveryHandler:
    """One instance serves every session of a listener; it keeps no per-session state."""

    def __init__(self, services: Services, check_sender: bool = False) -> None:
        self.services = services
        #: On the submission port: the sender must be the authenticated user's own address.
        self.check_sender = check_sender
        config = services.config
        self.policy = RecipientPolicy(
            is_local_domain=config.is_local_domain,
            resolve=services.auth.resolve,
            postmaster=config.postmaster,
        )

    async def handle_MAIL(
        self,
        server: Any,
        session: LabSession,
        envelope: LabEnvelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        sender = parse_sender(address)
        if sender is None:
            return replies.BAD_SENDER_ADDRESS
        if self.check_sender and (
            session.user is None or not self.policy.owns(session.user, address)
        ):
            # aiosmtpd already refused MAIL before AUTH; this is the spoofing check.
            user = session.user or "(none)"
            log.info(
                "%s sender <%s> refused: not an address of %s",
                session.connection.describe(),
                address,
                user,
            )
            return replies.sender_not_owned(user)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        envelope.sender = sender
        return replies.SENDER_OK

    async def handle_RCPT(
        self,
        server: Any,
        session: LabSession,
        envelope: LabEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.accepted) >= self.services.config.limits.max_recipients:
            return replies.TOO_MANY_RECIPIENTS
        decision = self.policy.decide(address, authenticated=session.user is not None)
        if isinstance(decision, Reject):
            log.info(
                "%s recipient <%s> refused: %s",
                session.connection.describe(),
                address,
                decision.reply,
            )
            return decision.reply
        if decision.user not in envelope.deliveries() and await self._is_full(decision.user):
            log.info(
                "%s recipient <%s> refused: mailbox full",
                session.connection.describe(),
                address,
            )
            return replies.MAILBOX_FULL_TRY_LATER
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        envelope.accepted.append(decision)
        return replies.RECIPIENT_OK

    async def handle_DATA(self, server: Any, session: LabSession, envelope: LabEnvelope) -> str:
        spooled = envelope.spooled
        assert spooled is not None, "DATA and BDAT spool the message first"
        queue_id = new_queue_id()
        now = time.time()
        config = self.services.config
        header = message.complete_header(
            spooled.header,
            sender=envelope.sender,
            queue_id=queue_id,
            hostname=config.hostname,
            timestamp=now,
        )
        # The message is header + blank line + the body, which stays in the spool file.
        head = header + message.CRLF
        body_size = spooled.size - spooled.body_offset
        trace = message.Trace(
            helo=session.host_name or "unknown",
            client_ip=session.connection.ip,
            client_name=session.connection.name,
            hostname=config.hostname,
            protocol=message.with_protocol(
                # AUTH (even after HELO) and STARTTLS are ESMTP extensions.
                extended=session.extended_smtp
                or session.user is not None
                or session.connection.tls,
                tls=session.connection.tls,
                authenticated=session.user is not None,
                utf8=envelope.smtp_utf8,
            ),
            queue_id=queue_id,
            timestamp=now,
        )
        deliveries = envelope.deliveries()
        copies = {
            user: message.trace_fields(trace, envelope.sender, rcpt) + head
            for user, rcpt in deliveries.items()
        }
        for user, prefix in copies.items():
            if not await self._fits(user, len(prefix) + body_size):
                log.info(
                    "%s message id=%s refused: mailbox of %s full",
                    session.connection.describe(),
                    queue_id,
                    user,
                )
                return replies.mailbox_full(deliveries[user])
        results = await asyncio.gather(
            *(self._store(user, prefix, spooled) for user, prefix in copies.items()),
            return_exceptions=True,
        )
        failures = {
            user: result
            for user, result in zip(copies, results, strict=True)
            if isinstance(result, BaseException)
        }
        if failures:
            self._log_failure(queue_id, list(failures.values()))
            return failure_reply(failures, deliveries)
        log.info(
            "%s delivered id=%s from=<%s> to=%s size=%d",
            session.connection.describe(),
            queue_id,
            envelope.sender,
            ",".join(f"<{rcpt}>" for rcpt in deliveries.values()),
            len(head) + body_size,
        )
        return replies.queued(queue_id)

    async def _quota(self, user: str) -> tuple[Mailbox, int] | None:
        mailbox = await self.services.store.mailbox(user)
        limit = mailbox.quota_limit()
        return None if limit is None else (mailbox, limit)

    async def _is_full(self, user: str) -> bool:
        """No room for even one more octet (store trouble is left to DATA to report)."""
        return not await self._fits(user, 1)

    async def _fits(self, user: str, octets: int) -> bool:
        try:
            quota = await self._quota(user)
            if quota is None:
                return True
            mailbox, limit = quota
            used, _ = await mailbox.usage()
        except StorageError:
            return True
        return used + octets <= limit

    async def _store(self, user: str, prefix: bytes, spooled: SpooledMessage) -> None:
        """One recipient's copy: its own trace fields and header, then the body copied
        from the spool file in chunks (never the whole message in memory)."""
        mailbox = await self.services.store.mailbox(user)
        folder = await mailbox.folder(INBOX)
        await folder.append_file(spooled.path, offset=spooled.body_offset, prefix=prefix)

    @staticmethod
    def _log_failure(queue_id: str, failures: list[BaseException]) -> None:
        for failure in failures:
            if isinstance(failure, StorageError):
                log.error("delivery of %s failed: %s", queue_id, failure.message)
            else:
                log.error("delivery of %s failed", queue_id, exc_info=failure)

    async def handle_exception(self, error: Exception) -> str:
        """aiosmtpd would put ``str(error)`` on the wire; we log it and say only "try again"."""
        log.error("unexpected error in session", exc_info=error)
        return replies.TEMPORARY_FAILURE


def failure_reply(failures: dict[str, BaseException], deliveries: dict[str, str]) -> str:
    """The one DATA reply for failed deliveries (user -> exception).

    A user's quota (OVER_QUOTA: a race with another delivery, since DATA
    checks first) is permanent for this message (``552 5.2.2``); a full
    disk (NO_SPACE) is the server's problem (``452 4.3.1``); anything else
    is temporary too. After a 4xx the client keeps the message and retries.
    """
    kinds = {f.kind: user for user, f in failures.items() if isinstance(f, StorageError)}
    if ErrorKind.OVER_QUOTA in kinds:
        return replies.mailbox_full(deliveries[kinds[ErrorKind.OVER_QUOTA]])
    if ErrorKind.NO_SPACE in kinds:
        return replies.INSUFFICIENT_STORAGE
    return replies.TEMPORARY_FAILURE
