"""The queue manager: finds due entries, delivers them, records each recipient.

Like Postfix's qmgr, but inside our process. Every ``relay.scan_interval``
seconds it lists ``data_dir/queue`` (cheap: a listdir and a stat per entry,
envelopes re-read only when their file changed), so entries written by SMTP,
by the web side, by another worker process or changed by ``mailserver queue``
are all seen without any connection between processes. An entry is worked
on under its file lock (``QueueStore.lock_entry``), so two processes never
deliver the same entry at once.

For each due entry: recipients of our own domains get their copy in the
maildir; the rest are grouped by destination (route, smarthost or MX) and
each destination gets one SMTP transaction carrying all of its recipients.
Connections are limited in total and per destination; one dead destination
only costs its own entries a connect timeout. Each recipient's result is
written back (fsync'd) as soon as its transaction ends, so a crash can at
worst repeat a delivery whose ``250`` we had not yet recorded.

Temporary failures are retried after ``min_backoff`` doubling up to
``max_backoff``; once ``lifetime`` has passed the recipient bounces. The
sender gets an RFC 3464 notification (``bounce.py``) for failures, a delay
warning after ``delay_warning``, and success notices when NOTIFY=SUCCESS
asked for them; notifications (null sender) never get notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict

from mailserver.events import Event, Subscription, Topic
from mailserver.relay import bounce
from mailserver.relay.client import HopFailed, Outcome, Transaction, deliver
from mailserver.relay.queue import (
    BOUNCED,
    SENT,
    Entry,
    QueueStore,
    RecipientState,
    new_queue_id,
)
from mailserver.relay.routing import Destination, MxLookup, RoutingError, dns_mx_lookup, resolve
from mailserver.services import Services
from mailserver.smtp import replies
from mailserver.smtp.policy import Accept, RecipientPolicy
from mailserver.storage import ErrorKind, StorageError
from mailserver.submission import queue_store, store_copy

log = logging.getLogger("mailserver.relay")

#: Entries worked on at once by one process (each holds its message in memory).
MAX_ACTIVE_ENTRIES = 100
LOCAL = "local"


class QueueManager:
    """One per server process; ``start`` and ``stop`` bracket its life."""

    def __init__(self, services: Services, mx_lookup: MxLookup = dns_mx_lookup) -> None:
        self.services = services
        self.config = services.config
        self.settings = services.config.relay
        self.store: QueueStore = queue_store(services)
        self.mx_lookup = mx_lookup
        self.policy = RecipientPolicy(
            is_local_domain=self.config.is_local_domain,
            resolve=services.auth.resolve,
            postmaster=self.config.postmaster,
        )
        self._total = asyncio.Semaphore(self.settings.max_connections)
        self._per_destination: dict[str, asyncio.Semaphore] = {}
        self._active: dict[str, asyncio.Task[None]] = {}
        #: queue id -> (envelope mtime, next due time or None when nothing is pending)
        self._due: dict[str, tuple[float, float | None]] = {}
        self._runner: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self.store.ensure)
        self._subscription = self.services.events.subscribe(Topic.CONTROL, self._on_control)
        self._runner = asyncio.create_task(self._run(), name="queue-manager")

    def _on_control(self, event: Event) -> None:
        if event.data.get("action") == "queue.scan":
            self._wake.set()

    async def stop(self) -> None:
        """Stop scanning and abandon transactions in flight (they are retried later)."""
        if self._subscription is not None:
            self._subscription.close()
        tasks = [t for t in (self._runner, *self._active.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.scan()
            except Exception:
                log.exception("queue scan failed")
            # Sleep until the next scan, or until a message is queued in this process.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.scan_interval)
            self._wake.clear()

    async def scan(self) -> None:
        """Start work on every due entry not already being worked on."""
        due = await asyncio.to_thread(self._due_ids, time.time())
        for queue_id in due:
            if queue_id in self._active or len(self._active) >= MAX_ACTIVE_ENTRIES:
                continue
            task = asyncio.create_task(self._process(queue_id), name=f"queue-{queue_id}")
            self._active[queue_id] = task
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._active.pop(task.get_name().removeprefix("queue-"), None)

    def _due_ids(self, now: float) -> list[str]:
        due: list[str] = []
        seen: set[str] = set()
        for queue_id in self.store.ids():
            seen.add(queue_id)
            try:
                mtime = self.store.envelope_path(queue_id).stat().st_mtime
            except FileNotFoundError:
                continue
            cached = self._due.get(queue_id)
            if cached is None or cached[0] != mtime:
                try:
                    entry = self.store.load(queue_id)
                except (ValueError, TypeError, OSError):
                    log.error("queue entry %s is unreadable; left alone", queue_id)
                    entry = None
                cached = (mtime, entry.next_due() if entry else None)
                self._due[queue_id] = cached
            next_due = cached[1]
            if next_due is not None and next_due <= now:
                due.append(queue_id)
        for gone in set(self._due) - seen:
            del self._due[gone]
        return due

    # ------------------------------------------------------------ one entry

    async def _process(self, queue_id: str) -> None:
        try:
            with self.store.lock_entry(queue_id) as locked:
                if locked:
                    await self._work(queue_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: delivery attempt failed", queue_id)

    async def _work(self, queue_id: str) -> None:
        entry = await asyncio.to_thread(self.store.load, queue_id)
        if entry is None:
            return
        now = time.time()
        next_due = entry.next_due()
        if next_due is None or next_due > now:
            return  # a stale view of an entry another process has just worked on
        message = await asyncio.to_thread(self.store.read_message, queue_id)
        due = [r for r in entry.pending if r.next_attempt <= now]
        local: list[RecipientState] = []
        remote: dict[str, list[RecipientState]] = defaultdict(list)
        destinations: dict[str, Destination] = {}
        outcomes: dict[str, Outcome] = {}
        for rcpt in due:
            domain = rcpt.address.rpartition("@")[2]
            if rcpt.user is not None or not domain or self.config.is_local_domain(domain):
                local.append(rcpt)
                continue
            try:
                destination = await resolve(domain, self.settings, self.mx_lookup)
            except RoutingError as exc:
                outcomes[rcpt.address] = Outcome(exc.kind, exc.reply, "")
                continue
            destinations[destination.key] = destination
            remote[destination.key].append(rcpt)
        lock = asyncio.Lock()
        if outcomes:
            await self._record(entry, outcomes, lock)
        jobs = [
            self._remote(entry, message, destinations[key], rcpts, lock)
            for key, rcpts in remote.items()
        ]
        if local:
            jobs.append(self._local(entry, message, local, lock))
        await asyncio.gather(*jobs)
        await self._notify(entry, message)
        if entry.finished:
            await asyncio.to_thread(self.store.remove, entry.id)
            log.info("%s: removed", entry.id)
        else:
            await asyncio.to_thread(self.store.save, entry)

    async def _remote(
        self,
        entry: Entry,
        message: bytes,
        destination: Destination,
        rcpts: list[RecipientState],
        lock: asyncio.Lock,
    ) -> None:
        transaction = Transaction(
            sender=entry.sender,
            recipients=[(r.address, r.notify, r.orcpt) for r in rcpts],
            data=message,
            ret=entry.ret,
            envid=entry.envid,
            smtputf8=entry.smtputf8,
            body_8bit=entry.body_8bit,
        )
        semaphore = self._per_destination.setdefault(
            destination.key, asyncio.Semaphore(self.settings.max_per_destination)
        )
        failure = HopFailed("no next hop")
        results: dict[str, Outcome] | None = None
        async with semaphore, self._total:
            for hop in destination.hops:
                try:
                    results = await deliver(
                        hop,
                        transaction,
                        self.config.hostname,
                        self.settings.connect_timeout,
                        self.settings.command_timeout,
                    )
                    break
                except HopFailed as exc:
                    failure = exc
                    if exc.kind == 5:
                        break
        if results is None:
            relay = str(destination.hops[-1]) if destination.hops else ""
            reply = failure.reply
            if not reply[:1].isdigit():
                prefix = "451 4.4.1" if failure.kind == 4 else "554 5.4.0"
                reply = f"{prefix} {reply}"
            results = {r.address: Outcome(failure.kind, reply, relay) for r in rcpts}
        await self._record(entry, results, lock)

    async def _local(
        self, entry: Entry, message: bytes, rcpts: list[RecipientState], lock: asyncio.Lock
    ) -> None:
        results: dict[str, Outcome] = {}
        for rcpt in rcpts:
            user = rcpt.user
            if user is None:
                decision = self.policy.decide(rcpt.address, authenticated=True)
                if not isinstance(decision, Accept) or decision.user is None:
                    reply = getattr(decision, "reply", replies.user_unknown(rcpt.address))
                    results[rcpt.address] = Outcome(5, reply, LOCAL)
                    continue
                user = decision.user
            data = f"Return-Path: <{entry.sender}>\r\n".encode("utf-8", "surrogateescape") + message
            try:
                await store_copy(self.services, user, data)
            except StorageError as exc:
                reply = (
                    replies.MAILBOX_FULL_TRY_LATER
                    if exc.kind is ErrorKind.OVER_QUOTA
                    else replies.INSUFFICIENT_STORAGE
                    if exc.kind is ErrorKind.NO_SPACE
                    else replies.TEMPORARY_FAILURE
                )
                results[rcpt.address] = Outcome(4, reply, LOCAL)
            else:
                results[rcpt.address] = Outcome(2, f"250 2.0.0 delivered to {user}'s INBOX", LOCAL)
        await self._record(entry, results, lock)

    async def _record(self, entry: Entry, results: dict[str, Outcome], lock: asyncio.Lock) -> None:
        """Apply outcomes to the entry and write it to disk before anything else happens."""
        now = time.time()
        settings = self.settings
        for rcpt in entry.recipients:
            outcome = results.get(rcpt.address)
            if outcome is None or not rcpt.pending:
                continue
            rcpt.attempts += 1
            rcpt.last_reply = outcome.reply
            rcpt.relay = outcome.relay
            status = "sent"
            if outcome.kind == 2:
                rcpt.state = SENT
                rcpt.done_at = now
                if outcome.dsn_passed:
                    rcpt.notify = [w for w in rcpt.notify if w != "SUCCESS"] or ["NEVER"]
            elif outcome.kind == 5 or now >= entry.created + settings.lifetime:
                if outcome.kind != 5:
                    rcpt.last_reply = f"{outcome.reply} (gave up after {rcpt.attempts} attempts)"
                rcpt.state = BOUNCED
                rcpt.done_at = now
                status = "bounced"
            else:
                delay = min(settings.max_backoff, settings.min_backoff * 2 ** (rcpt.attempts - 1))
                rcpt.next_attempt = min(now + delay, entry.created + settings.lifetime)
                status = "deferred"
            log.info(
                "%s: to=<%s>, relay=%s, delay=%.1f, tries=%d, status=%s (%s)",
                entry.id,
                rcpt.address,
                rcpt.relay or "none",
                now - entry.created,
                rcpt.attempts,
                status,
                rcpt.last_reply,
            )
            self.services.events.emit(
                Topic.RELAY,
                queue_id=entry.id,
                recipient=rcpt.address,
                relay=rcpt.relay,
                status=status,
                reply=rcpt.last_reply,
                delay=round(now - entry.created, 1),
            )
        async with lock:
            await asyncio.to_thread(self.store.save, entry)

    # ------------------------------------------------------- notifications

    async def _notify(self, entry: Entry, message: bytes) -> None:
        """Queue the DSNs this attempt owes the sender, then mark them sent."""
        now = time.time()
        silent = entry.is_bounce or entry.sender == ""
        groups: dict[str, list[bounce.Notice]] = defaultdict(list)
        for rcpt in entry.recipients:
            if rcpt.state == BOUNCED and not rcpt.reported:
                rcpt.reported = True
                if rcpt.wants("FAILURE"):
                    groups["failed"].append(bounce.Notice(rcpt, "failed"))
            elif rcpt.state == SENT and not rcpt.reported:
                rcpt.reported = True
                if rcpt.wants("SUCCESS"):
                    action = "delivered" if rcpt.relay == LOCAL else "relayed"
                    groups[action].append(bounce.Notice(rcpt, action))
            elif (
                rcpt.pending
                and not rcpt.delay_warned
                and self.settings.delay_warning > 0
                and now - entry.created >= self.settings.delay_warning
            ):
                rcpt.delay_warned = True
                if rcpt.wants("DELAY"):
                    groups["delayed"].append(bounce.Notice(rcpt, "delayed"))
        if silent:
            if groups.get("failed"):
                log.info(
                    "%s: notification undeliverable; dropped (never bounce a bounce)", entry.id
                )
            return
        for notices in groups.values():
            await self._send_notice(entry, message, notices)

    async def _send_notice(
        self, entry: Entry, message: bytes, notices: list[bounce.Notice]
    ) -> None:
        data = bounce.build(entry, message, notices, self.config.hostname, self.settings.lifetime)
        notice = Entry(
            id=new_queue_id(),
            sender="",
            recipients=[RecipientState(address=entry.sender, next_attempt=time.time())],
            is_bounce=True,
            smtputf8=not entry.sender.isascii(),
            body_8bit=any(b > 127 for b in data),
        )
        await asyncio.to_thread(self.store.enqueue, notice, data)
        self._wake.set()
        log.info(
            "%s: sender %s notification: %s (%s)",
            entry.id,
            notices[0].action,
            notice.id,
            ", ".join(f"<{n.recipient.address}>" for n in notices),
        )
