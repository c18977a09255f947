"""Start the SMTP listener: one :class:`LabSMTP` protocol per connection."""

from __future__ import annotations

import asyncio
import logging

from mailserver.listeners import ListenerContext
from mailserver.smtp.delivery import DeliveryHandler
from mailserver.smtp.protocol import LabSMTP


async def start_listener(context: ListenerContext) -> asyncio.Server:
    # aiosmtpd logs every command line at INFO under "mail.log"; our own
    # log says one line per connection, login and delivery instead.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    loop = asyncio.get_running_loop()
    handler = DeliveryHandler(context.services)
    return await loop.create_server(
        lambda: LabSMTP(context, handler, loop),
        context.address.host,
        context.address.port,
        ssl=context.ssl_context,
    )
