"""The aiosmtpd handler: envelope checks at MAIL/RCPT, local delivery at DATA.

aiosmtpd has already parsed the command when a hook runs; the hooks ask
``policy`` what to do and the store to do it, and return the reply text.
``250`` after DATA is sent only once every recipient's copy is on disk
(``Folder.append`` returns after fsync); any failure gives ``451`` and the
client keeps the message. Store errors are mapped to replies here and only
here; their text never reaches the client.
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
from mailserver.storage import INBOX, StorageError

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
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        envelope.accepted.append(decision)
        return replies.RECIPIENT_OK

    async def handle_DATA(self, server: Any, session: LabSession, envelope: LabEnvelope) -> str:
        content = envelope.original_content or b""
        queue_id = new_queue_id()
        now = time.time()
        config = self.services.config
        prepared = message.prepare(
            content,
            sender=envelope.sender,
            queue_id=queue_id,
            hostname=config.hostname,
            timestamp=now,
        )
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
            ),
            queue_id=queue_id,
            timestamp=now,
        )
        deliveries = envelope.deliveries()
        results = await asyncio.gather(
            *(
                self._store(user, message.delivered_copy(prepared, trace, envelope.sender, rcpt))
                for user, rcpt in deliveries.items()
            ),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            self._log_failure(queue_id, failures)
            return replies.TEMPORARY_FAILURE
        log.info(
            "%s delivered id=%s from=<%s> to=%s size=%d",
            session.connection.describe(),
            queue_id,
            envelope.sender,
            ",".join(f"<{rcpt}>" for rcpt in deliveries.values()),
            len(prepared.data),
        )
        return replies.queued(queue_id)

    async def _store(self, user: str, data: bytes) -> None:
        mailbox = await self.services.store.mailbox(user)
        folder = await mailbox.folder(INBOX)
        await folder.append(data)

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
