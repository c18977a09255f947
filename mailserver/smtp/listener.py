"""Start an SMTP listener: one :class:`LabSMTP` protocol per connection.

The same code serves ``smtp`` (25), ``submission`` (587, AUTH and sender
check required) and ``smtps`` (465, TLS from the first byte: ``ssl_context``).
"""

from __future__ import annotations

import asyncio
import logging

from mailserver.listeners import ListenerContext
from mailserver.net.backlog import BACKLOG
from mailserver.net.implicit_tls import start_implicit_tls_server
from mailserver.net.starttls import handshake_limit
from mailserver.smtp.delivery import DeliveryHandler
from mailserver.smtp.protocol import SUBMISSION, LabSMTP

log = logging.getLogger("mailserver.smtp")


async def start_listener(context: ListenerContext) -> asyncio.Server:
    # aiosmtpd logs every command line at INFO under "mail.log"; our own
    # log says one line per connection, login and delivery instead.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    handler = DeliveryHandler(context.services, check_sender=context.name == SUBMISSION)
    if context.ssl_context is None:
        if context.sock is not None:
            return await loop.create_server(
                lambda: LabSMTP(context, handler, loop), sock=context.sock, backlog=BACKLOG
            )
        return await loop.create_server(
            lambda: LabSMTP(context, handler, loop),
            context.address.host,
            context.address.port,
            backlog=BACKLOG,
        )
    # The connection takes its slot before the handshake, which gets at most one
    # idle timeout (30 s at most); the session and its timers start after it.
    return await start_implicit_tls_server(
        context.address.host,
        context.address.port,
        context.sessions,
        context.ssl_context,
        handshake_limit(context.services.config.timeouts.smtp),
        lambda handle: LabSMTP(context, handler, loop, admitted=handle),
        log,
        context.name,
        sock=context.sock,
    )
