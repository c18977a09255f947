"""NOTIFY (RFC 5465): tell a client of changes as they happen, in its selected
mailbox and in the others it names, without IDLE and without polling STATUS.

Where the news comes from:

* message changes (new, expunged, flags) from the store's change listeners:
  every folder the client's filters cover gets a listener on its shared
  :class:`~mailserver.storage.Folder` object, so a delivery by SMTP or a
  change by another IMAP or POP3 session in this process is seen at once;
* folder and subscription changes (``MailboxName``, ``SubscriptionChange``)
  from ``services.events`` (``Topic.MAILBOX`` with ``change`` ``"folders"``
  or ``"subscriptions"``), published by the IMAP commands that make them.

What the client hears (RFC 5465 5): for the selected mailbox the usual
EXISTS / EXPUNGE / FETCH responses (with the MessageNew fetch attributes for
new mail); for other mailboxes ``* STATUS`` with MESSAGES, UIDNEXT and
UIDVALIDITY (UNSEEN too with FlagChange, HIGHESTMODSEQ with CONDSTORE),
sent only when a value changed; ``* LIST`` for created (``()``), deleted
(``\\NonExistent``) and renamed (``OLDNAME``) mailboxes; ``* LIST`` with or
without ``\\Subscribed`` for subscription changes.

When: between commands, by a task that waits for news and takes the
session's turn (:attr:`ImapSession.exclusive`) so it never writes into the
middle of a command's responses; during IDLE, by IDLE itself
(:meth:`Notifier.flush`). News that arrives while a command runs is sent
after its tagged reply. Changes the session made itself are not echoed
(RFC 5465 5: the client already knows).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailserver.events import Event, Subscription, Topic
from mailserver.imap.parser.notify import EventGroup
from mailserver.imap.utf8 import mailbox_name, utf8_on
from mailserver.storage import INBOX, SEEN, Folder, StorageError

if TYPE_CHECKING:
    from mailserver.imap.session import ImapSession

log = logging.getLogger("mailserver.imap")

#: Event names as Topic.MAILBOX ``change`` values for the folder-level news.
FOLDERS = "folders"
SUBSCRIPTIONS = "subscriptions"
#: Folders watched at most; beyond it the client gets ``[NOTIFICATIONOVERFLOW]``.
MAX_WATCHED = 1000
#: LIST lines waiting for the session's turn at most (a client that never lets us
#: send, or a storm of renames); beyond it NOTIFY ends with ``[NOTIFICATIONOVERFLOW]``.
MAX_PENDING_LINES = 1000
OVERFLOW = b"* OK [NOTIFICATIONOVERFLOW] Too many changes, notifications stopped\r\n"


def publish_folder_change(
    session: ImapSession, change: str, folder: str, *, old: str | None = None, on: bool = True
) -> None:
    """A CREATE/DELETE/RENAME (``FOLDERS``) or (UN)SUBSCRIBE (``SUBSCRIPTIONS``) done."""
    data: dict[str, object] = {
        "user": session.user,
        "folder": folder,
        "change": change,
        "session": id(session),
    }
    if change == FOLDERS:
        data["exists"] = on
        if old is not None:
            data["old"] = old
    else:
        data["subscribed"] = on
    # Everywhere, not only where a listener is known: a NOTIFY session in another
    # worker that subscribed a moment ago must not miss it (nothing re-reads it).
    session.events.publish_everywhere(Event(Topic.MAILBOX, data))


@dataclass
class _Known:
    """What the client was last told of a non-selected folder."""

    values: dict[str, int] = field(default_factory=dict)


class Notifier:
    """One session's NOTIFY SET: which folders, which events, and the news pending."""

    def __init__(self, session: ImapSession, groups: tuple[EventGroup, ...]) -> None:
        self.session = session
        self.selected_group = next(
            (g for g in groups if g.filter in ("SELECTED", "SELECTED-DELAYED")), None
        )
        self.other_groups = [g for g in groups if g.filter not in ("SELECTED", "SELECTED-DELAYED")]
        self.subscribed: set[str] = set()
        self._watched: dict[str, tuple[Folder, Callable[[], None]]] = {}
        self._known: dict[str, _Known] = {}
        self._dirty: set[str] = set()
        self._lines: list[bytes] = []
        self.wake = asyncio.Event()
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending_work: list[Callable[[], object]] = []
        self._view_waited: object = None
        self.overflow = False

    # ------------------------------------------------------------ set-up

    async def start(self, send_status: bool) -> None:
        """Watch the folders the filters cover; with STATUS, report each now."""
        mailbox = self.session.mailbox
        assert mailbox is not None
        if any(g.filter == "SUBSCRIBED" for g in self.other_groups):
            self.subscribed = set(await mailbox.subscriptions())
        for name in await mailbox.list_folders():
            if self.covers(name) is not None:
                await self._watch(name)
        if send_status:
            lines = []
            for name in sorted(self._watched):
                if not self._is_selected(name):
                    line = await self._status_line(name, force=True)
                    if line:
                        lines.append(line)
            await self.session.send_untagged(lines)
        if any(self._wants(g, ("MailboxName", "SubscriptionChange")) for g in self.other_groups):
            self._subscription = self.session.events.subscribe(Topic.MAILBOX, self._on_event)
        self._task = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        for folder, listener in self._watched.values():
            folder.remove_listener(listener)
        self._watched.clear()
        if self._subscription is not None:
            self._subscription.close()
        if self._task is not None:
            self._task.cancel()

    # -------------------------------------------------------- filtering

    def covers(self, name: str) -> EventGroup | None:
        """The non-selected group whose filter matches folder ``name``, if any."""
        for group in self.other_groups:
            if group.filter == "PERSONAL":
                return group
            if group.filter == "INBOXES" and name == INBOX:
                return group
            if group.filter == "SUBSCRIBED" and name in self.subscribed:
                return group
            if group.filter == "MAILBOXES" and name in group.mailboxes:
                return group
            if group.filter == "SUBTREE" and any(
                name == root or name.startswith(root + "/") for root in group.mailboxes
            ):
                return group
        return None

    @staticmethod
    def _wants(group: EventGroup | None, events: tuple[str, ...]) -> bool:
        return group is not None and any(event in group.events for event in events)

    def _is_selected(self, name: str) -> bool:
        view = self.session.view
        return view is not None and view.folder.name == name and self.selected_group is not None

    # ------------------------------------------------------------ news in

    async def _watch(self, name: str) -> None:
        if name in self._watched:
            return
        if len(self._watched) >= MAX_WATCHED:
            self.overflow = True
            return
        mailbox = self.session.mailbox
        assert mailbox is not None
        try:
            folder = await mailbox.folder(name)
        except StorageError:
            return

        def changed() -> None:
            self._dirty.add(name)
            self.wake.set()

        folder.add_listener(changed)
        self._watched[name] = (folder, changed)

    def _unwatch(self, name: str) -> None:
        entry = self._watched.pop(name, None)
        if entry is not None:
            entry[0].remove_listener(entry[1])
        self._known.pop(name, None)
        self._dirty.discard(name)

    def _on_event(self, event: Event) -> None:
        data = event.data
        own = data.get("session") == id(self.session) and event.origin == os.getpid()
        if data.get("user") != self.session.user or own:
            return
        name = str(data.get("folder", ""))
        change = data.get("change")
        if change == FOLDERS and "exists" in data:
            # Only the IMAP commands' events say what happened (the store's own
            # "folders" events name a folder that changed and wake its listeners).
            self._folder_renamed_or_created(name, data)
        elif change == SUBSCRIPTIONS:
            self._subscription_changed(name, bool(data.get("subscribed")))

    def _folder_renamed_or_created(self, name: str, data: dict[str, object]) -> None:
        old = data.get("old")
        exists = bool(data.get("exists"))
        group = self.covers(name) or (self.covers(str(old)) if old else None)
        if not self._wants(group, ("MailboxName",)):
            return
        utf8 = utf8_on(self.session)
        wire_name = mailbox_name(name, utf8)
        if not exists:
            self._queue(b'* LIST (\\NonExistent) "/" %s\r\n' % wire_name)
            self._after(lambda: self._unwatch(name))
        elif old:
            old_wire = mailbox_name(str(old), utf8)
            self._queue(b'* LIST () "/" %s ("OLDNAME" (%s))\r\n' % (wire_name, old_wire))
            self._after(lambda: self._unwatch(str(old)))
            self._after(lambda: self._watch(name))
        else:
            self._queue(b'* LIST () "/" %s\r\n' % wire_name)
            self._after(lambda: self._watch(name))
        self.wake.set()

    def _subscription_changed(self, name: str, subscribed: bool) -> None:
        if subscribed:
            self.subscribed.add(name)
        else:
            self.subscribed.discard(name)
        if self._wants(self.covers(name), ("SubscriptionChange",)):
            attributes = b"(\\Subscribed)" if subscribed else b"()"
            wire_name = mailbox_name(name, utf8_on(self.session))
            self._queue(b'* LIST %s "/" %s\r\n' % (attributes, wire_name))

    def _queue(self, line: bytes) -> None:
        if len(self._lines) >= MAX_PENDING_LINES:
            self.overflow = True
        else:
            self._lines.append(line)
        self.wake.set()

    def _after(self, work: Callable[[], object]) -> None:
        """Watch lists change on the next flush, in the session's turn."""
        self._pending_work.append(work)

    def after_command(self) -> None:
        """A command may have selected another mailbox: wait on that one's changes."""
        if self.session.view is not self._view_waited:
            self.wake.set()

    # ------------------------------------------------------------- news out

    async def flush(self) -> None:
        """Send what is pending; the caller holds the session's turn."""
        self.wake.clear()
        session = self.session
        if self.overflow:
            # RFC 5465 5.8: say so and stop; the client re-syncs with LIST/STATUS.
            await session.send(OVERFLOW)
            stop(session)
            return
        work, self._pending_work = self._pending_work, []
        for job in work:
            result = job()
            if asyncio.iscoroutine(result):
                await result
        lines, self._lines = self._lines, []
        dirty, self._dirty = self._dirty, set()
        for name in sorted(dirty):
            if self._is_selected(name):
                continue  # the view reports its own changes, below
            line = await self._status_line(name)
            if line:
                lines.append(line)
        view = session.view
        if view is not None and self.selected_group is not None:
            before = view.max_uid()
            # SELECTED-DELAYED keeps EXPUNGEs for a command that allows them (RFC 5465 6).
            expunges = self.selected_group.filter == "SELECTED"
            try:
                lines.extend(await view.refresh(allow_expunge=expunges))
            except StorageError as exc:
                log.info("imap %s: notify refresh failed: %s", session.peer, exc.kind.value)
            await session.send_untagged(lines)
            lines = []
            new = [uid for uid in view.uids if uid > before]
            if new and self.selected_group.fetch:
                await self._fetch_new(new)
        await session.send_untagged(lines)

    async def _fetch_new(self, uids: list[int]) -> None:
        """RFC 5465 5.1: ``MessageNew (fetch-att ...)`` sends them for each new message."""
        from mailserver.imap.fetch import run_fetch  # imports this package's parser
        from mailserver.imap.parser.binary import BinarySection
        from mailserver.imap.parser.commands import Fetch
        from mailserver.imap.parser.fetch_items import BodySection
        from mailserver.imap.parser.sequence import SequenceSet

        assert self.selected_group is not None
        sequence = SequenceSet(tuple((uid, uid) for uid in uids))
        # News must not mark anything read: body items are fetched as their PEEK form.
        items = tuple(
            dataclasses.replace(item, peek=True)
            if isinstance(item, BodySection | BinarySection)
            else item
            for item in self.selected_group.fetch
        )
        await run_fetch(self.session, Fetch("*", "UID FETCH", True, sequence, items))

    async def _status_line(self, name: str, force: bool = False) -> bytes | None:
        group = self.covers(name)
        entry = self._watched.get(name)
        if group is None or entry is None:
            return None
        try:
            snapshot = await entry[0].snapshot()
        except StorageError:
            return None
        values = {
            "MESSAGES": len(snapshot.messages),
            "UIDNEXT": snapshot.uidnext,
            "UIDVALIDITY": snapshot.uidvalidity,
        }
        if "FlagChange" in group.events:
            values["UNSEEN"] = sum(1 for m in snapshot.messages if SEEN not in m.flags)
        if "CONDSTORE" in self.session.enabled:
            values["HIGHESTMODSEQ"] = snapshot.highest_modseq
        known = self._known.setdefault(name, _Known())
        if not force and values == known.values:
            return None
        if not force and not self._wants(group, ("MessageNew", "MessageExpunge", "FlagChange")):
            return None
        known.values = values
        items = b" ".join(b"%s %d" % (key.encode(), value) for key, value in values.items())
        wire_name = mailbox_name(name, utf8_on(self.session))
        return b"* STATUS %s (%s)\r\n" % (wire_name, items)

    async def _run(self) -> None:
        """Between commands: wait for news, take the session's turn, send it."""
        from mailserver.imap.session import ClientGone  # the session imports this module

        session = self.session
        while not session.closing:
            view = self._view_waited = session.view
            waiters: set[asyncio.Future[object]] = {asyncio.ensure_future(self.wake.wait())}
            if view is not None and self.selected_group is not None:
                waiters.add(asyncio.ensure_future(view.changed_event.wait()))
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
            async with session.exclusive:
                if session.closing:
                    return
                try:
                    await self.flush()
                except (ClientGone, ConnectionError, OSError):
                    return
                except Exception:
                    if session.closing:
                        return
                    log.exception("imap %s: NOTIFY push failed", session.peer)
                    return


def stop(session: ImapSession) -> None:
    """End NOTIFY for the session (NOTIFY NONE, a new NOTIFY SET, logout)."""
    notifier = session.notifier
    session.notifier = None
    if notifier is not None:
        with contextlib.suppress(Exception):
            notifier.stop()
