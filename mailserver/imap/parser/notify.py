"""The NOTIFY command (RFC 5465 8): ``NOTIFY NONE`` or ``NOTIFY SET [STATUS]``
followed by event groups, each a mailbox filter and the events wanted for it::

    NOTIFY SET STATUS (SELECTED (MessageNew (UID FLAGS) MessageExpunge FlagChange))
                      (PERSONAL (MessageNew MessageExpunge MailboxName SubscriptionChange))

Event names are kept as the RFC spells them; which ones are supported, and
the rules between them, are the handler's (``commands/notify.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from mailserver.imap.parser.base import Command
from mailserver.imap.parser.fetch_items import FetchItem, parse_fetch_items
from mailserver.imap.parser.lexer import Cursor, ParseError

SELECTED_FILTERS = frozenset({"SELECTED", "SELECTED-DELAYED"})
OTHER_FILTERS = frozenset({"INBOXES", "PERSONAL", "SUBSCRIBED", "SUBTREE", "MAILBOXES"})
#: Every event RFC 5465 and its updates name, by upper-case spelling.
KNOWN_EVENTS = {
    name.upper(): name
    for name in (
        "MessageNew",
        "MessageExpunge",
        "FlagChange",
        "AnnotationChange",
        "MailboxName",
        "SubscriptionChange",
        "MailboxMetadataChange",
        "ServerMetadataChange",
    )
}
#: More groups or mailboxes than this in one NOTIFY is not a client, it is a load test.
MAX_GROUPS = 50
MAX_MAILBOXES = 1000


@dataclass(frozen=True)
class EventGroup:
    #: One of :data:`SELECTED_FILTERS` or :data:`OTHER_FILTERS`.
    filter: str
    #: For SUBTREE and MAILBOXES: the store names given.
    mailboxes: tuple[str, ...]
    #: Event names as RFC 5465 spells them; empty for ``NONE``.
    events: tuple[str, ...]
    #: ``MessageNew (fetch-att ...)``: what to FETCH for new messages (SELECTED only).
    fetch: tuple[FetchItem, ...] = ()


@dataclass(frozen=True)
class Notify(Command):
    #: ``NOTIFY NONE``: no groups, no notifications.
    groups: tuple[EventGroup, ...]
    #: ``SET STATUS``: send the current STATUS of the mailboxes now.
    status: bool = False


def parse_notify(cursor: Cursor, tag: str, name: str, uid: bool) -> Command:
    cursor.sp()
    if cursor.take(b"NONE"):
        cursor.end()
        return Notify(tag, name, ())
    if not cursor.take(b"SET"):
        raise ParseError("Expected SET or NONE")
    cursor.sp()
    status = cursor.take(b"STATUS ")
    groups = [_group(cursor)]
    while cursor.take(b" "):
        if len(groups) >= MAX_GROUPS:
            raise ParseError("Too many event groups")
        groups.append(_group(cursor))
    cursor.end()
    return Notify(tag, name, tuple(groups), status)


def _group(cursor: Cursor) -> EventGroup:
    cursor.expect(b"(", "'(' before an event group")
    kind = cursor.atom("mailbox filter").upper()
    if kind not in SELECTED_FILTERS | OTHER_FILTERS:
        raise ParseError(f"Unknown mailbox filter {kind}"[:60])
    mailboxes: tuple[str, ...] = ()
    if kind in ("SUBTREE", "MAILBOXES"):
        cursor.sp()
        mailboxes = _mailboxes(cursor)
    cursor.sp()
    events: list[str] = []
    fetch: tuple[FetchItem, ...] = ()
    if not cursor.take(b"NONE"):
        cursor.expect(b"(", "'(' before the events")
        while True:
            event = cursor.atom("event").upper()
            if event not in KNOWN_EVENTS:
                raise ParseError(f"Unknown event {event}"[:60])
            events.append(KNOWN_EVENTS[event])
            if event == "MESSAGENEW" and cursor.peek_is(b" ("):
                cursor.sp()
                fetch = parse_fetch_items(cursor)
            if not cursor.take(b" "):
                break
        cursor.expect(b")", "')' after the events")
    cursor.expect(b")", "')' after the event group")
    return EventGroup(kind, mailboxes, tuple(events), fetch)


def _mailboxes(cursor: Cursor) -> tuple[str, ...]:
    if not cursor.take(b"("):
        return (cursor.mailbox(),)
    names = [cursor.mailbox()]
    while cursor.take(b" "):
        if len(names) >= MAX_MAILBOXES:
            raise ParseError("Too many mailboxes")
        names.append(cursor.mailbox())
    cursor.expect(b")", "')' after the mailboxes")
    return tuple(names)
