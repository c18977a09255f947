"""The one way a new message enters the server, whatever protocol brought it.

SMTP's DATA hook and the web side's "send" both call :func:`submit` with the
envelope (sender, recipients with their DSN parameters), the message bytes,
the authenticated user and a description of the client. It

* completes the header section and adds our ``Received`` field (RFC 5321 4.4);
* refuses a message that has travelled too many hops (RFC 5321 6.3);
* stores each local recipient's copy in their INBOX (fsync'd);
* writes remote recipients, and any local copy that failed temporarily while
  others succeeded, to the durable queue (``relay/queue.py``, fsync'd);

and only then returns an accepting :class:`Result`. Nothing is acknowledged
before it is on disk.

The message comes as bytes (the web side) or as a :class:`SpooledMessage`
(SMTP DATA/BDAT, streamed to ``data_dir/spool/``). A spooled body never
enters memory: only the completed header section is built here, each local
copy is that header plus the body copied from the spool file by
``Folder.deliver_file``, and the queue's message file is written the same
way (``QueueStore.enqueue`` with ``source``). The caller owns the spool file
and removes it afterwards. The reply texts are SMTP's (``250 2.0.0 Ok: queued as
ID``, ``451 ...``) because SMTP is the protocol of mail transfer; another
front end shows ``Result.reply`` as the reason or just checks ``accepted``.

A web front end sends like this (the user is logged in, so relaying is allowed)::

    rcpts = [recipient(services, a) for a in addresses]
    refused = [r for r in rcpts if isinstance(r, str)]      # SMTP-style reasons
    result = await submit(services, Submission(
        sender="group1_1@group1.NetLab",
        recipients=tuple(r for r in rcpts if not isinstance(r, str)),
        content=message_bytes,                               # RFC 5322, CRLF
        client=Client(helo="webmail", ip=remote_ip, protocol="HTTPSA",
                      description=f"web {remote_ip}"),
        user="group1_1",
    ))
    if not result.accepted: show(result.reply)

Quotas: a message that does not fit a local recipient's remaining room is
refused (``552 5.2.2``) before any copy is written: one reply covers every
recipient and a partial delivery could not be reported.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from mailserver.events import Event, Topic
from mailserver.relay.queue import SENT, Entry, QueueStore, RecipientState, new_queue_id
from mailserver.services import Services
from mailserver.smtp import message, replies
from mailserver.smtp.policy import Accept, RecipientPolicy
from mailserver.storage import INBOX, ErrorKind, StorageError
from mailserver.storage.spool import SpooledMessage

log = logging.getLogger("mailserver.submission")

#: RFC 5321 6.3: more than this many ``Received`` fields means a mail loop.
MAX_HOPS = 50


@dataclass(frozen=True)
class Client:
    """Who handed the message over: what the ``Received`` field and the logs say."""

    #: HELO/EHLO argument (the web side passes its own host name).
    helo: str
    ip: str
    #: Reverse-DNS name of ``ip`` when known.
    name: str | None = None
    #: RFC 3848 ``with`` keyword: ``SMTP``, ``ESMTPSA``, ``HTTP`` ...
    protocol: str = "ESMTP"
    #: How the logs name the connection, e.g. ``[192.0.2.7]:52114``.
    description: str = ""


@dataclass(frozen=True)
class Recipient:
    """One accepted recipient: ``user`` is the local account, None for a remote address."""

    address: str
    user: str | None = None
    #: DSN NOTIFY keywords (SUCCESS, FAILURE, DELAY or NEVER); empty: the default.
    notify: tuple[str, ...] = ()
    #: DSN ORCPT as received (``rfc822;user@example``).
    orcpt: str | None = None


@dataclass(frozen=True)
class Submission:
    """A message and its envelope. ``sender`` is ``""`` for the null sender ``<>``."""

    sender: str
    recipients: tuple[Recipient, ...]
    #: The message (RFC 5322): bytes in memory, or a file it was streamed to.
    content: bytes | SpooledMessage
    client: Client
    #: Canonical name of the authenticated user, None for an anonymous client.
    user: str | None = None
    #: DSN RET (``FULL``/``HDRS``) and ENVID, None when not given.
    ret: str | None = None
    envid: str | None = None
    #: The client used SMTPUTF8 (the message may carry UTF-8 addresses/headers).
    smtputf8: bool = False


@dataclass(frozen=True)
class Result:
    """What became of a submission. ``accepted`` is True only when every copy
    is on disk (delivered or queued); ``reply`` is the SMTP reply to give."""

    queue_id: str
    accepted: bool
    reply: str
    #: Addresses stored in a local INBOX now.
    delivered: tuple[str, ...] = ()
    #: Addresses written to the queue (remote, or a local copy to retry).
    queued: tuple[str, ...] = ()
    #: Per address: ``delivered`` or ``queued`` (empty when not accepted).
    outcome: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Prepared:
    """The message with its header section completed: ``head`` (header and the
    blank line) in memory, the body either in memory or in the spool file."""

    head: bytes
    body: bytes = b""
    spooled: SpooledMessage | None = None

    @property
    def size(self) -> int:
        if self.spooled is None:
            return len(self.head) + len(self.body)
        return len(self.head) + self.spooled.size - self.spooled.body_offset


def _prepare(
    content: bytes | SpooledMessage, *, sender: str, queue_id: str, hostname: str, timestamp: float
) -> _Prepared:
    """Complete the header section (``message.complete_header``); a spooled body
    stays in its file."""
    if isinstance(content, SpooledMessage):
        header, body = content.header, b""
    else:
        split = message.split_header(content)
        header, body = split.header, split.body
    completed = message.complete_header(
        header, sender=sender, queue_id=queue_id, hostname=hostname, timestamp=timestamp
    )
    spooled = content if isinstance(content, SpooledMessage) else None
    return _Prepared(completed + message.CRLF, body, spooled)


def queue_store(services: Services) -> QueueStore:
    """The queue under ``data_dir/queue``."""
    return QueueStore(services.config.data_dir / "queue")


async def submit(services: Services, submission: Submission) -> Result:
    """Deliver local copies and queue the rest; see the module docstring."""
    config = services.config
    queue_id = new_queue_id()
    now = time.time()
    client = submission.client
    prepared = _prepare(
        submission.content,
        sender=submission.sender,
        queue_id=queue_id,
        hostname=config.hostname,
        timestamp=now,
    )
    if received_count(prepared.head) >= MAX_HOPS:
        log.info("%s message id=%s refused: too many hops", client.description, queue_id)
        return Result(queue_id, False, replies.TOO_MANY_HOPS)
    trace = message.Trace(
        helo=client.helo,
        client_ip=client.ip,
        client_name=client.name,
        hostname=config.hostname,
        protocol=client.protocol,
        queue_id=queue_id,
        timestamp=now,
        user=submission.user,
    )
    local = _local_deliveries(submission.recipients)
    # Each copy's own Return-Path and Received, then the completed header.
    copies = {
        user: message.trace_fields(trace, submission.sender, rcpt.address) + prepared.head
        for user, rcpt in local.items()
    }
    for user, prefix in copies.items():
        # prefix holds the header already: add the body's size.
        if not await fits(services, user, len(prefix) + prepared.size - len(prepared.head)):
            log.info(
                "%s message id=%s refused: mailbox of %s full", client.description, queue_id, user
            )
            return Result(queue_id, False, replies.mailbox_full(local[user].address))
    results = await _store_all(services, copies, prepared)
    failures = {
        user: result
        for user, result in zip(copies, results, strict=True)
        if isinstance(result, BaseException)
    }
    delivered = [local[user].address for user in copies if user not in failures]
    remote = [r for r in submission.recipients if r.user is None]
    if failures:
        _log_failure(queue_id, list(failures.values()))
        if not delivered:
            # Nothing is on disk yet: the client keeps the message and retries it whole.
            deliveries = {user: rcpt.address for user, rcpt in local.items()}
            return Result(queue_id, False, failure_reply(failures, deliveries))
    to_queue = remote + [local[user] for user in failures]
    states = [
        RecipientState(
            address=r.address, user=r.user, notify=list(r.notify), orcpt=r.orcpt, next_attempt=now
        )
        for r in to_queue
    ]
    if submission.sender:
        # NOTIFY=SUCCESS for a copy stored now: the queue manager writes the
        # notice (RFC 3461 "delivered") from this record, as for relayed mail.
        states += [
            RecipientState(
                address=rcpt.address,
                user=user,
                notify=list(rcpt.notify),
                orcpt=rcpt.orcpt,
                state=SENT,
                last_reply=f"250 2.0.0 delivered to {user}'s INBOX",
                relay="local",
                done_at=now,
            )
            for user, rcpt in local.items()
            if user not in failures and "SUCCESS" in rcpt.notify
        ]
    if states:
        entry = Entry(
            id=queue_id,
            sender=submission.sender,
            recipients=states,
            created=now,
            ret=submission.ret,
            envid=submission.envid,
            smtputf8=needs_smtputf8(submission, prepared.head),
            body_8bit=await asyncio.to_thread(_has_8bit, prepared),
            user=submission.user,
        )
        single = states[0].address if len(submission.recipients) == 1 else None
        data = message.received_field(trace, single) + prepared.head + prepared.body
        spooled = prepared.spooled
        source, offset = (None, 0) if spooled is None else (spooled.path, spooled.body_offset)
        try:
            await asyncio.to_thread(queue_store(services).enqueue, entry, data, source, offset)
        except OSError as exc:
            log.error("queueing of %s failed: %s", queue_id, exc.strerror)
            return Result(queue_id, False, replies.INSUFFICIENT_STORAGE)
        services.events.publish(Event(Topic.CONTROL, {"action": "queue.scan"}))
    if delivered:
        log.info(
            "%s delivered id=%s from=<%s> to=%s size=%d",
            client.description,
            queue_id,
            submission.sender,
            ",".join(f"<{a}>" for a in delivered),
            prepared.size,
        )
    if to_queue:
        log.info(
            "%s queued id=%s from=<%s> to=%s size=%d",
            client.description,
            queue_id,
            submission.sender,
            ",".join(f"<{r.address}>" for r in to_queue),
            prepared.size,
        )
    outcome = {a: "delivered" for a in delivered} | {r.address: "queued" for r in to_queue}
    return Result(
        queue_id,
        True,
        replies.queued(queue_id),
        delivered=tuple(delivered),
        queued=tuple(r.address for r in to_queue),
        outcome=outcome,
    )


def needs_smtputf8(submission: Submission, data: bytes) -> bool:
    """RFC 6531: the next hop must speak SMTPUTF8 only when an address or the
    header section is not ASCII (an ASCII message sent with SMTPUTF8 need not)."""
    if not submission.smtputf8:
        return False
    addresses = [submission.sender, *(r.address for r in submission.recipients)]
    header = message.split_header(data).header
    return not all(a.isascii() for a in addresses) or not header.isascii()


def recipient(services: Services, address: str, authenticated: bool = True) -> Recipient | str:
    """Classify one address as the SMTP RCPT check does: a local :class:`Recipient`
    (with its account), a remote one (``user`` None; relaying needs
    ``authenticated``), or the refusal reply as a string (unknown user, relay
    tricks). For front ends other than SMTP, such as webmail's "send"."""
    config = services.config
    decision = RecipientPolicy(
        is_local_domain=config.is_local_domain,
        resolve=services.auth.resolve,
        postmaster=config.postmaster,
    ).decide(address, authenticated=authenticated)
    if isinstance(decision, Accept):
        return Recipient(decision.address, decision.user)
    return decision.reply


def _local_deliveries(recipients: tuple[Recipient, ...]) -> dict[str, Recipient]:
    """user -> the first recipient that named them: one copy per mailbox, however
    many aliases of the same user were given."""
    result: dict[str, Recipient] = {}
    for rcpt in recipients:
        if rcpt.user is not None:
            result.setdefault(rcpt.user, rcpt)
    return result


def received_count(data: bytes) -> int:
    """How many ``Received:`` fields the header section holds."""
    header = message.split_header(data).header
    return sum(
        1
        for line in header.split(b"\n")
        if line[:9].lower() == b"received:" or line[:10].lower() == b"received :"
    )


async def fits(services: Services, user: str, octets: int) -> bool:
    """Whether ``octets`` more fit in ``user``'s quota (store trouble: assume yes,
    the append reports it)."""
    try:
        mailbox = await services.store.mailbox(user)
        limit = mailbox.quota_limit()
        if limit is None:
            return True
        used, _ = await mailbox.usage()
    except StorageError:
        return True
    return used + octets <= limit


def _has_8bit(prepared: _Prepared) -> bool:
    """Whether any octet of the message is above 127 (a spooled body is read in
    chunks; blocking, so from a worker thread)."""
    if not prepared.head.isascii() or not prepared.body.isascii():
        return True
    if prepared.spooled is None:
        return False
    with prepared.spooled.open() as handle:
        handle.seek(prepared.spooled.body_offset)
        while chunk := handle.read(1024 * 1024):
            if not chunk.isascii():
                return True
    return False


async def _store_all(
    services: Services, copies: dict[str, bytes], prepared: _Prepared
) -> list[object]:
    """Store every copy at once; each one's result or exception, in order.

    One copy (the usual message: one local recipient) is awaited directly: a
    task and a gathering future per message were 3% of the SMTP event loop."""
    if len(copies) == 1:
        ((user, prefix),) = copies.items()
        try:
            await _store_prepared(services, user, prefix, prepared)
        except Exception as exc:  # as gather(return_exceptions=True) returns it
            return [exc]
        return [None]
    return await asyncio.gather(
        *(_store_prepared(services, user, prefix, prepared) for user, prefix in copies.items()),
        return_exceptions=True,
    )


async def _store_prepared(
    services: Services, user: str, prefix: bytes, prepared: _Prepared
) -> None:
    """One local copy: ``prefix`` (trace fields and header) and the body; a spooled
    body is copied from its file in chunks (``Folder.deliver_file``)."""
    if prepared.spooled is None:
        await _store(services, user, prefix + prepared.body)
        return
    mailbox = await services.store.mailbox(user)
    folder = await mailbox.folder(INBOX)
    await folder.deliver_file(
        prepared.spooled.path, offset=prepared.spooled.body_offset, prefix=prefix
    )


async def store_copy(services: Services, user: str, data: bytes) -> None:
    """Deliver one copy to ``user``'s INBOX (returns after fsync).

    ``Folder.deliver``, not ``append``: nobody here needs the UID, so the
    maildir numbers the message when the folder is next read (as after
    Postfix's or Dovecot's local delivery) instead of under the folder lock
    both workers share, per message."""
    mailbox = await services.store.mailbox(user)
    folder = await mailbox.folder(INBOX)
    await folder.deliver(data)


_store = store_copy


def _log_failure(queue_id: str, failures: list[BaseException]) -> None:
    for failure in failures:
        if isinstance(failure, StorageError):
            log.error("delivery of %s failed: %s", queue_id, failure.message)
        else:
            log.error("delivery of %s failed", queue_id, exc_info=failure)


def failure_reply(failures: dict[str, BaseException], deliveries: dict[str, str]) -> str:
    """The one reply for failed deliveries (user -> exception) when none succeeded.

    A user's quota (OVER_QUOTA: a race with another delivery, since the quota
    is checked first) is permanent for this message (``552 5.2.2``); a full
    disk (NO_SPACE) is the server's problem (``452 4.3.1``); anything else
    is temporary too. After a 4xx the client keeps the message and retries.
    """
    kinds = {f.kind: user for user, f in failures.items() if isinstance(f, StorageError)}
    if ErrorKind.OVER_QUOTA in kinds:
        return replies.mailbox_full(deliveries[kinds[ErrorKind.OVER_QUOTA]])
    if ErrorKind.NO_SPACE in kinds:
        return replies.INSUFFICIENT_STORAGE
    return replies.TEMPORARY_FAILURE
