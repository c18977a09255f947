"""Connection state apart from transaction state (aiosmtpd's Session / Envelope).

``Connection`` lives as long as the TCP connection, across the session reset
that STARTTLS causes; ``LabSession`` is what aiosmtpd resets; ``LabEnvelope``
is one mail transaction, reset by RSET, HELO/EHLO and after DATA.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiosmtpd.smtp import Envelope, Session

from mailserver.smtp.dsn import Params
from mailserver.smtp.policy import Accept
from mailserver.smtp.upload import Upload
from mailserver.storage.spool import SpooledMessage
from mailserver.submission import Recipient


@dataclass
class Connection:
    """Facts about the client that the trace header and the logs need."""

    ip: str
    port: int
    #: Reverse-DNS name, filled in when (and if) the lookup answers.
    name: str | None = None
    tls: bool = False

    def describe(self) -> str:
        return f"[{self.ip}]:{self.port}"


class LabSession(Session):
    """aiosmtpd's session plus our connection facts and the authenticated user."""

    def __init__(self, loop: asyncio.AbstractEventLoop, connection: Connection) -> None:
        super().__init__(loop)
        self.connection = connection
        #: Canonical user name once AUTH succeeded.
        self.user: str | None = None
        #: DSN parameters of the MAIL or RCPT command being handled (``dsn.take``).
        self.pending_dsn = Params()


class LabEnvelope(Envelope):
    """aiosmtpd's envelope plus the decisions taken at RCPT time."""

    def __init__(self) -> None:
        super().__init__()
        #: Reverse-path as recorded: ``""`` is the null sender.
        self.sender: str = ""
        self.accepted: list[Accept] = []
        #: DSN parameters of MAIL (RFC 3461 4.3, 4.4) and of each accepted RCPT.
        self.dsn_ret: str | None = None
        self.dsn_envid: str | None = None
        self.dsn_rcpt: list[tuple[tuple[str, ...], str | None]] = []
        #: MAIL said BODY=BINARYMIME: the message comes with BDAT only (RFC 3030 3).
        self.binary = False
        #: The message being received with BDAT chunks, until the LAST one.
        self.upload: Upload | None = None
        #: The received message, in its spool file, while delivery runs.
        self.spooled: SpooledMessage | None = None

    def deliveries(self) -> dict[str, str]:
        """user -> the first address that named them: one copy per mailbox, however
        many aliases of the same user were given."""
        result: dict[str, str] = {}
        for accept in self.accepted:
            if accept.user is not None:
                result.setdefault(accept.user, accept.address)
        return result

    def recipients(self) -> tuple[Recipient, ...]:
        """The accepted recipients with their DSN parameters, for ``submit``."""
        dsn = self.dsn_rcpt + [((), None)] * (len(self.accepted) - len(self.dsn_rcpt))
        return tuple(
            Recipient(accept.address, accept.user, notify, orcpt)
            for accept, (notify, orcpt) in zip(self.accepted, dsn, strict=True)
        )
