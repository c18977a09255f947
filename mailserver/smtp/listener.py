"""Start an SMTP listener: one :class:`LabSMTP` protocol per connection.

The same code serves ``smtp`` (25), ``submission`` (587, AUTH and sender
check required) and ``smtps`` (465, TLS from the first byte: ``ssl_context``).
"""

from __future__ import annotations

import asyncio
import logging

from mailserver.listeners import ListenerContext
from mailserver.smtp.delivery import DeliveryHandler
from mailserver.smtp.protocol import SUBMISSION, LabSMTP


async def start_listener(context: ListenerContext) -> asyncio.Server:
    # aiosmtpd logs every command line at INFO under "mail.log"; our own
    # log says one line per connection, login and delivery instead.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    handler = DeliveryHandler(context.services, check_sender=context.name == SUBMISSION)
    if context.ssl_context is None:
        return await loop.create_server(
            lambda: LabSMTP(context, handler, loop), context.address.host, context.address.port
        )
    # The session (and its idle timer) starts only after the handshake: a client
    # that connects and never handshakes is dropped after one idle timeout.
    return await loop.create_server(
        lambda: LabSMTP(context, handler, loop),
        context.address.host,
        context.address.port,
        ssl=context.ssl_context,
        ssl_handshake_timeout=context.services.config.timeouts.smtp,
    )
