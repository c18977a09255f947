"""The durable outbound queue: one message file and one envelope file per entry.

Layout under ``data_dir/queue/``::

    ID.msg    the message as it will be sent (our Received field on top), never rewritten
    ID.json   the envelope: sender, DSN parameters, each recipient with its own state
    .lock     taken (flock) by ``mailserver queue`` while it changes entries

An entry exists once its ``.json`` exists: the ``.msg`` is written, fsync'd and
renamed first, then the ``.json`` the same way, then the directory is fsync'd.
Only then does SMTP answer ``250`` (Postfix's rule: nothing acknowledged is
lost). State changes rewrite ``ID.json`` through a temp file and ``os.replace``.

Delivering an entry holds an exclusive ``flock`` on its ``.msg`` file, so two
worker processes (or a manager and ``queue delete``) never work on the same
entry at once; the lock dies with the process, so a kill -9 leaves nothing stuck.
All methods block on the disk: callers on the event loop use ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Recipient states. ``queued`` is waiting for (another) attempt.
QUEUED = "queued"
SENT = "sent"
BOUNCED = "bounced"

_ID_RE = re.compile(r"[0-9A-F]{12}")


class _QueueIds:
    """A pseudo-random generator seeded from the OS, re-seeded in a new process.

    Queue ids must not repeat, not be secret: ``secrets`` read the OS's random
    source for every message (a system call, about 2% of the SMTP event loop).
    """

    def __init__(self) -> None:
        self._pid = -1
        self._random = random.Random()

    def next(self) -> str:
        if self._pid != os.getpid():  # a forked child must not repeat its parent's ids
            self._random.seed(os.urandom(32))
            self._pid = os.getpid()
        return f"{self._random.getrandbits(48):012X}"


_queue_ids = _QueueIds()


def new_queue_id() -> str:
    """12 upper-case hex digits: short enough to read out, random enough not to repeat."""
    return _queue_ids.next()


def valid_id(text: str) -> bool:
    return _ID_RE.fullmatch(text) is not None


@dataclass
class RecipientState:
    """One recipient of a queued message and what happened to it so far."""

    address: str
    #: Local account when the recipient is ours (a local copy that failed once).
    user: str | None = None
    #: DSN NOTIFY keywords (RFC 3461 4.1); empty means the default (FAILURE and DELAY).
    notify: list[str] = field(default_factory=list)
    #: DSN ORCPT as received (``rfc822;user@example``), passed on unchanged.
    orcpt: str | None = None
    state: str = QUEUED
    attempts: int = 0
    next_attempt: float = 0.0
    #: The last reply (remote or our own reason), for logs, ``queue show`` and DSNs.
    last_reply: str = ""
    #: The host that gave it (``mx.example[192.0.2.1]:25``) or ``local``.
    relay: str = ""
    delay_warned: bool = False
    done_at: float | None = None
    #: The sender has had any notice this final state owes (or none was wanted).
    reported: bool = False

    @property
    def pending(self) -> bool:
        return self.state == QUEUED

    def wants(self, kind: str) -> bool:
        """Whether a DSN of ``kind`` (SUCCESS, FAILURE, DELAY) goes to the sender."""
        if not self.notify:
            return kind in ("FAILURE", "DELAY")
        return kind in self.notify


@dataclass
class Entry:
    """The envelope of one queued message."""

    id: str
    sender: str
    recipients: list[RecipientState]
    created: float = field(default_factory=time.time)
    #: DSN RET (FULL or HDRS) and ENVID (RFC 3461 4.3, 4.4), None when not given.
    ret: str | None = None
    envid: str | None = None
    #: The message needs SMTPUTF8 (RFC 6531) / 8BITMIME (RFC 6152) at the next hop.
    smtputf8: bool = False
    body_8bit: bool = False
    size: int = 0
    #: Authenticated submitter, for the logs.
    user: str | None = None
    #: A delivery status notification of ours: never bounced itself.
    is_bounce: bool = False

    @property
    def pending(self) -> list[RecipientState]:
        return [r for r in self.recipients if r.pending]

    @property
    def finished(self) -> bool:
        """Every recipient done and reported: the entry can go."""
        return all(not r.pending and r.reported for r in self.recipients)

    def next_due(self) -> float | None:
        """When the manager should look at this entry next: the earliest retry,
        or now if a finished recipient's notice was not yet written (a crash
        between recording a bounce and queueing it); None: nothing left to do."""
        times = [r.next_attempt for r in self.pending]
        times += [0.0 for r in self.recipients if not r.pending and not r.reported]
        return min(times) if times else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Entry:
        data = dict(raw)
        data["recipients"] = [RecipientState(**r) for r in data.get("recipients", [])]
        return cls(**data)


class QueueStore:
    """The queue directory. Cheap to construct; holds no state but the path."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    # ----------------------------------------------------------------- paths

    def message_path(self, queue_id: str) -> Path:
        return self.directory / f"{queue_id}.msg"

    def envelope_path(self, queue_id: str) -> Path:
        return self.directory / f"{queue_id}.json"

    def ensure(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    # ---------------------------------------------------------------- writing

    def enqueue(
        self, entry: Entry, data: bytes, source: Path | None = None, offset: int = 0
    ) -> None:
        """Write message and envelope durably; returns once both are on disk.

        The message is ``data`` followed, when ``source`` is given, by that
        file from ``offset`` on (a spooled SMTP message: our header in
        memory, the body copied from the spool file in chunks, never whole).
        """
        self.ensure()
        entry.size = _write_durably(self.message_path(entry.id), data, source, offset)
        _write_durably(self.envelope_path(entry.id), _dump(entry))
        _fsync_directory(self.directory)

    def save(self, entry: Entry) -> None:
        """Record new recipient states (atomic replace, fsync'd)."""
        _write_durably(self.envelope_path(entry.id), _dump(entry))

    def remove(self, queue_id: str) -> None:
        """Forget an entry: envelope first (the entry ends there), then the message."""
        for path in (self.envelope_path(queue_id), self.message_path(queue_id)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        with contextlib.suppress(FileNotFoundError):
            _fsync_directory(self.directory)

    # ---------------------------------------------------------------- reading

    def ids(self) -> list[str]:
        """Committed entries, oldest file first."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        ids = [n[:-5] for n in names if n.endswith(".json") and valid_id(n[:-5])]
        return sorted(ids)

    def load(self, queue_id: str) -> Entry | None:
        try:
            raw = json.loads(self.envelope_path(queue_id).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return Entry.from_json(raw)

    def read_message(self, queue_id: str) -> bytes:
        return self.message_path(queue_id).read_bytes()

    # ---------------------------------------------------------------- locking

    @contextlib.contextmanager
    def lock_entry(self, queue_id: str, wait: bool = False) -> Iterator[bool]:
        """Exclusive ``flock`` on the entry's message file; yields False if another
        process (or task) holds it, or the entry is gone."""
        try:
            fd = os.open(self.message_path(queue_id), os.O_RDONLY)
        except FileNotFoundError:
            yield False
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield self.envelope_path(queue_id).exists()
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def directory_lock(self) -> Iterator[None]:
        """The queue-wide lock the CLI holds while it changes entries."""
        self.ensure()
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _dump(entry: Entry) -> bytes:
    return json.dumps(entry.to_json(), indent=1).encode("utf-8")


#: Octets copied from a spooled message at a time.
_COPY_CHUNK = 1024 * 1024


def _write_durably(path: Path, data: bytes, source: Path | None = None, offset: int = 0) -> int:
    """``data`` (then ``source`` from ``offset``) to ``path`` via a temp file, fsync'd
    and renamed; the octets written. A failed write leaves no temp file behind."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    size = 0
    try:
        size += _write_all(fd, data)
        if source is not None:
            with open(source, "rb") as handle:
                handle.seek(offset)
                while chunk := handle.read(_COPY_CHUNK):
                    size += _write_all(fd, chunk)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    os.close(fd)
    os.replace(temp, path)
    return size


def _write_all(fd: int, data: bytes) -> int:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    return len(data)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
