"""The aiosmtpd handler: envelope checks at MAIL/RCPT, the message at DATA.

aiosmtpd has already parsed the command when a hook runs; the hooks ask
``policy`` what to do and return the reply text. DATA hands the message to
:func:`mailserver.submission.submit` (the path the web side uses too), which
stores local copies and queues remote recipients; ``250`` is sent only once
every copy is on disk. Store errors become replies in
``submission.failure_reply``; their text never reaches the client.

Quotas (RFC 9208 limits kept by the store): a recipient whose mailbox is
already full is refused at RCPT with ``452 4.2.2`` (the sender retries
later, the other recipients are unaffected); a message that does not fit
a recipient's remaining room is refused at DATA with ``552 5.2.2`` before
any copy is written, because one DATA reply covers every recipient and a
partial delivery could not be reported.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from mailserver.relay.queue import new_queue_id
from mailserver.services import Services
from mailserver.smtp import message, replies
from mailserver.smtp.policy import RecipientPolicy, Reject, parse_sender
from mailserver.smtp.state import LabEnvelope, LabSession
from mailserver.submission import Client, Submission, failure_reply, fits, submit

__all__ = ["DeliveryHandler", "failure_reply", "new_queue_id"]

log = logging.getLogger("mailserver.smtp")

#: Client addresses whose relay trust one handler remembers at most.
TRUSTED_CACHE = 1024


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
        self.networks = [ipaddress.ip_network(n) for n in config.relay.networks]
        #: ``trusted``'s answers by client address (parsing it per RCPT was 1% of
        #: the SMTP event loop); emptied when it reaches TRUSTED_CACHE entries.
        self._trusted: dict[str, bool] = {}

    def trusted(self, ip: str) -> bool:
        """Whether ``ip`` is in ``relay.networks`` (may relay without AUTH)."""
        known = self._trusted.get(ip)
        if known is None:
            if len(self._trusted) >= TRUSTED_CACHE:
                self._trusted.clear()
            known = self._trusted[ip] = self._in_networks(ip)
        return known

    def _in_networks(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

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
        envelope.dsn_ret = session.pending_dsn.ret
        envelope.dsn_envid = session.pending_dsn.envid
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
        decision = self.policy.decide(
            address,
            authenticated=session.user is not None,
            trusted=self.trusted(session.connection.ip),
        )
        if isinstance(decision, Reject):
            log.info(
                "%s recipient <%s> refused: %s",
                session.connection.describe(),
                address,
                decision.reply,
            )
            return decision.reply
        user = decision.user
        if user is not None and user not in envelope.deliveries() and await self._is_full(user):
            log.info(
                "%s recipient <%s> refused: mailbox full",
                session.connection.describe(),
                address,
            )
            return replies.MAILBOX_FULL_TRY_LATER
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        envelope.accepted.append(decision)
        dsn = session.pending_dsn
        envelope.dsn_rcpt.append((dsn.notify, dsn.orcpt))
        return replies.RECIPIENT_OK

    async def handle_DATA(self, server: Any, session: LabSession, envelope: LabEnvelope) -> str:
        """Hand the message to :func:`mailserver.submission.submit`; its reply is ours."""
        connection = session.connection
        result = await submit(
            self.services,
            Submission(
                sender=envelope.sender,
                recipients=envelope.recipients(),
                # DATA and BDAT stream the message to a spool file; bytes otherwise.
                content=(
                    envelope.spooled
                    if envelope.spooled is not None
                    else envelope.original_content or b""
                ),
                client=Client(
                    helo=session.host_name or "unknown",
                    ip=connection.ip,
                    name=connection.name,
                    protocol=message.with_protocol(
                        # AUTH (even after HELO) and STARTTLS are ESMTP extensions.
                        extended=session.extended_smtp
                        or session.user is not None
                        or connection.tls,
                        tls=connection.tls,
                        authenticated=session.user is not None,
                        utf8=envelope.smtp_utf8,
                    ),
                    description=connection.describe(),
                ),
                user=session.user,
                ret=envelope.dsn_ret,
                envid=envelope.dsn_envid,
                smtputf8=envelope.smtp_utf8,
            ),
        )
        return result.reply

    async def _is_full(self, user: str) -> bool:
        """No room for even one more octet (store trouble is left to DATA to report)."""
        return not await fits(self.services, user, 1)

    async def handle_exception(self, error: Exception) -> str:
        """aiosmtpd would put ``str(error)`` on the wire; we log it and say only "try again"."""
        log.error("unexpected error in session", exc_info=error)
        return replies.TEMPORARY_FAILURE
