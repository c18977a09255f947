"""NOTIFY (RFC 5465): checks the requested events, then hands over to ``imap/notify.py``.

Supported: the SELECTED and SELECTED-DELAYED (expunges wait for a command), INBOXES,
PERSONAL, SUBSCRIBED, SUBTREE and MAILBOXES filters with MessageNew (with
fetch attributes for the selected mailbox), MessageExpunge, FlagChange,
MailboxName and SubscriptionChange. Annotation and metadata events need
extensions we do not have: ``NO [BADEVENT (...)]`` lists what we do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mailserver.imap import notify
from mailserver.imap.errors import Response, bad, no
from mailserver.imap.parser.fetch_items import SETS_SEEN
from mailserver.imap.parser.notify import SELECTED_FILTERS, Notify

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

SUPPORTED = ("MessageNew", "MessageExpunge", "FlagChange", "MailboxName", "SubscriptionChange")
BADEVENT = "BADEVENT (" + " ".join(SUPPORTED) + ")"


async def notify_command(session: ImapSession, command: Notify) -> Response:
    for group in command.groups:
        if any(event not in SUPPORTED for event in group.events):
            raise no("Event not supported", BADEVENT)
        events = set(group.events)
        # RFC 5465 5: MessageNew and MessageExpunge go together; FlagChange needs both.
        if ("MessageNew" in events) != ("MessageExpunge" in events):
            raise bad("MessageNew and MessageExpunge must be asked for together")
        if "FlagChange" in events and "MessageNew" not in events:
            raise bad("FlagChange needs MessageNew and MessageExpunge")
        if group.fetch and group.filter not in SELECTED_FILTERS:
            raise bad("Fetch attributes are for the selected mailbox only")
        if any(getattr(item, "name", "") in SETS_SEEN for item in group.fetch):
            raise bad("RFC822 and RFC822.TEXT would mark mail read; use BODY.PEEK[]")
    notify.stop(session)
    if not command.groups:
        return Response("OK", "NOTIFY completed")
    notifier = notify.Notifier(session, command.groups)
    session.notifier = notifier
    await notifier.start(command.status)
    if notifier.overflow:
        notify.stop(session)
        await session.send(b"* OK [NOTIFICATIONOVERFLOW] Too many mailboxes to watch\r\n")
    return Response("OK", "NOTIFY completed")
