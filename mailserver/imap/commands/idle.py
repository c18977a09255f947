"""IDLE (RFC 2177): push changes to a client that waits, instead of having it poll.

While idling the session waits on three things at once: the client's
``DONE``, the selected folder's change notification (anything done through
this process: another IMAP session, SMTP delivery, POP3 deletion), and a
timer. The timer re-reads the folder every :data:`POLL_INTERVAL` seconds,
which catches changes made by other programs, and sends ``* OK Still here``
every :data:`KEEPALIVE_INTERVAL` seconds so NAT boxes keep the connection.
An idle session holds one pending read and one event wait, nothing more: it
never wakes up unless one of those fires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from mailserver.imap.errors import Response, bad
from mailserver.imap.parser.base import NoArguments
from mailserver.net.lines import LineTooLong
from mailserver.storage import StorageError

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

log = logging.getLogger("mailserver.imap")

#: Re-read the folder this often to notice changes made by other processes.
POLL_INTERVAL = 30.0
#: Send ``* OK Still here`` this often, so idle connections are not dropped.
KEEPALIVE_INTERVAL = 120.0
CONTINUATION = b"+ idling\r\n"
STILL_HERE = b"* OK Still here\r\n"
TIMEOUT_BYE = b"* BYE Autologout; idle for too long\r\n"


async def idle(session: ImapSession, command: NoArguments) -> Response:
    await session.send(CONTINUATION)
    # session.read_line applies the inactivity timeout (RFC 2177: clients
    # re-issue IDLE every 29 minutes) and lets shutdown interrupt the wait.
    reader = asyncio.ensure_future(session.read_line())
    try:
        await _wait(session, reader)
    finally:
        if not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    try:
        line = reader.result()
    except LineTooLong:
        raise bad("Expected DONE") from None
    except TimeoutError:
        from mailserver.imap.session import ClientGone  # the session imports this module

        log.info("imap %s: idle timeout (user %s)", session.peer, session.user or "-")
        await session.send(TIMEOUT_BYE)
        raise ClientGone from None
    if line.strip().upper() != b"DONE":
        raise bad("Expected DONE")
    return Response("OK", "IDLE terminated")


async def _wait(session: ImapSession, reader: asyncio.Future[bytes]) -> None:
    """Report changes until the client sends its line (or the read fails)."""
    loop = asyncio.get_running_loop()
    next_poll = loop.time() + POLL_INTERVAL
    next_keepalive = loop.time() + KEEPALIVE_INTERVAL
    while True:
        view = session.view
        waiters: set[asyncio.Future[Any]] = {reader}
        change: asyncio.Future[Any] | None = None
        if view is not None:
            change = asyncio.ensure_future(view.changed_event.wait())
            waiters.add(change)
        news: asyncio.Future[Any] | None = None
        if session.notifier is not None:
            # NOTIFY's news for other mailboxes (RFC 5465): IDLE holds the session's turn.
            news = asyncio.ensure_future(session.notifier.wake.wait())
            waiters.add(news)
        timeout = max(0.0, min(next_poll, next_keepalive) - loop.time())
        try:
            done, _ = await asyncio.wait(
                waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in (change, news):
                if waiter is not None and not waiter.done():
                    waiter.cancel()
        if reader in done:
            return
        if news is not None and news in done and session.notifier is not None:
            await session.notifier.flush()
        now = loop.time()
        if view is not None and (change in done or now >= next_poll):
            next_poll = now + POLL_INTERVAL
            try:
                await session.send_untagged(await view.refresh(allow_expunge=True))
            except StorageError as exc:
                log.info("imap %s: refresh while idling failed: %s", session.peer, exc.kind.value)
        if now >= next_keepalive:
            next_keepalive = now + KEEPALIVE_INTERVAL
            await session.send(STILL_HERE)
