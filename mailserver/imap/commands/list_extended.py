"""LIST with RFC 5258 (LIST-EXTENDED), RFC 5819 (LIST-STATUS), RFC 6154 (SPECIAL-USE)
and RFC 3348 (CHILDREN).

Attributes are computed from what exists, whatever the selection:
``\\HasChildren`` only when a folder really has one below it, ``\\Noselect``
for a parent that is only implied by a child's name, ``\\NonExistent`` for a
subscription whose folder is gone. Special-use attributes (``\\Sent`` ...)
are always sent: clients that did not ask simply ignore them, and clients
that did not know to ask (Outlook, iOS) still find the right folders.
The only entry with an empty name is RFC 3501's delimiter reply to ``LIST "" ""``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailserver.imap.commands.mailboxes import mailbox_of, status
from mailserver.imap.errors import Response
from mailserver.imap.listing import NamePattern, list_entries
from mailserver.imap.parser.commands import Status
from mailserver.imap.parser.extensions import ListCommand
from mailserver.imap.parser.lexer import ParseError, decode_mailbox
from mailserver.imap.utf8 import mailbox_name
from mailserver.storage import DELIMITER, INBOX, StorageError

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

DELIMITER_REPLY = b'* LIST (\\Noselect) "/" ""\r\n'
_CHILDINFO = b' ("CHILDINFO" ("SUBSCRIBED"))'


@dataclass
class _Entry:
    name: str
    #: RECURSIVEMATCH: a subscribed folder lies below this one (RFC 5258 CHILDINFO).
    subscribed_child: bool = False


def utf8_names(session: ImapSession) -> bool:
    return "UTF8=ACCEPT" in session.enabled


async def list_command(session: ImapSession, command: ListCommand) -> Response:
    patterns = _decoded_patterns(session, command)
    if not patterns:
        if not command.selection and all(not p for p in command.patterns):
            # RFC 3501 6.3.8: the empty pattern asks for the delimiter and root.
            await session.send(DELIMITER_REPLY)
        return Response("OK", "LIST completed")
    mailbox = mailbox_of(session)
    existing = set(await mailbox.list_folders())
    implied = _parents(existing)
    wants_subscribed = "SUBSCRIBED" in command.selection or "SUBSCRIBED" in command.returns
    subscribed = await mailbox.subscriptions() if wants_subscribed else set()
    special = await mailbox.special_use()
    entries = _select(command, patterns, existing, subscribed, special)
    utf8 = utf8_names(session)
    for entry in entries:
        attributes = _attributes(entry.name, existing, implied, subscribed, special, command)
        line = b'* LIST (%s) "%s" %s' % (
            b" ".join(attributes),
            DELIMITER.encode(),
            mailbox_name(entry.name, utf8),  # UTF-8 quoted once UTF8=ACCEPT is on
        )
        if entry.subscribed_child:
            line += _CHILDINFO
        await session.send(line + b"\r\n")
        if command.status_items and entry.name in existing:
            # RFC 5819: a failure for one folder (deleted meanwhile) only omits its STATUS.
            with contextlib.suppress(StorageError):
                await status(
                    session, Status(command.tag, "STATUS", entry.name, command.status_items)
                )
    return Response("OK", "LIST completed")


def _decoded_patterns(session: ImapSession, command: ListCommand) -> list[str]:
    """Reference + each non-empty pattern, as store names; undecodable ones match nothing."""
    out = []
    for pattern in command.patterns:
        if not pattern:
            continue
        try:
            out.append(
                decode_mailbox(
                    (command.reference + pattern).encode("utf-8"), utf8=utf8_names(session)
                )
            )
        except ParseError:
            continue
    return out


def _parents(names: set[str]) -> set[str]:
    """Every name that has something below it (existing or implied)."""
    parents = set()
    for name in names:
        parts = name.split(DELIMITER)
        for depth in range(1, len(parts)):
            parents.add(DELIMITER.join(parts[:depth]))
    return parents


def _select(
    command: ListCommand,
    patterns: list[str],
    existing: set[str],
    subscribed: set[str],
    special: dict[str, str],
) -> list[_Entry]:
    found: dict[str, _Entry] = {}
    matchers = [NamePattern(p) for p in patterns]
    selection = command.selection
    if "SUBSCRIBED" in selection:
        for name in subscribed:
            if any(m.matches(name) for m in matchers):
                found.setdefault(name, _Entry(name))
        if "RECURSIVEMATCH" in selection:
            # RFC 5258 3.5: a parent is reported for a subscribed child only when
            # the patterns do not list that child in its own right.
            unlisted = {name for name in subscribed if not any(m.matches(name) for m in matchers)}
            for parent in _parents(unlisted):
                if any(m.matches(parent) for m in matchers):
                    found.setdefault(parent, _Entry(parent)).subscribed_child = True
    else:
        for pattern in patterns:
            for listed in list_entries(existing, pattern):
                found.setdefault(listed.name, _Entry(listed.name))
    if "SPECIAL-USE" in selection:
        found = {name: entry for name, entry in found.items() if name in special}
        if "RECURSIVEMATCH" in selection:
            unlisted = {name for name in special if not any(m.matches(name) for m in matchers)}
            for parent in _parents(unlisted):
                if any(m.matches(parent) for m in matchers):
                    found.setdefault(parent, _Entry(parent))
    entries = [entry for name, entry in found.items() if name]
    entries.sort(key=lambda e: (e.name != INBOX, e.name))
    return entries


def _attributes(
    name: str,
    existing: set[str],
    implied: set[str],
    subscribed: set[str],
    special: dict[str, str],
    command: ListCommand,
) -> list[bytes]:
    out: list[bytes] = []
    has_children = name in implied
    if name not in existing:
        out.append(b"\\Noselect" if has_children else b"\\NonExistent")
    if name in existing or has_children:
        out.append(b"\\HasChildren" if has_children else b"\\HasNoChildren")
    if name in subscribed and (
        "SUBSCRIBED" in command.selection or "SUBSCRIBED" in command.returns
    ):
        out.append(b"\\Subscribed")
    use = special.get(name)
    if use is not None:
        out.append(use.encode("ascii", "replace"))
    return out
