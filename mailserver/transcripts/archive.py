"""Recent sessions in memory, live and finished, for the console and the control socket.

Fed only from the event channel. Bounded three ways: lines per session
(:data:`MAX_LINES_PER_SESSION`, the rest are counted), the number of
finished sessions kept, and the octets of their lines; the oldest finished
sessions go first. Live sessions are bounded by the connection limits.

Each worker's archive hears only its own sessions (and web logins) until
something reads it: the console, served by any worker, would otherwise list
different sessions and answer its own links with 404 depending on which
worker took the request. So a read first gathers (:meth:`gather`): the
others send what they keep (``Topic.SESSION_SYNC``) and, for a while, their
sessions as they happen. A worker started late (SIGHUP, a crash) asks at
once, and one that stops hands over what it kept (:meth:`hand_over`).

Ten thousand idle sessions would each keep their greeting, LOGIN and
SELECT (~1.5 KB, most of it the same capability list) in every worker. A
live session whose lines have not changed for :data:`PACK_QUIET` seconds is
packed (``packing.py``: ~140 octets) by a sweep every :data:`SWEEP_EVERY`
seconds that stops after :data:`SWEEP_BUDGET` seconds of work; busy
sessions are never quiet long enough to be packed, so busy workloads pay a
dictionary update per batch. Reading a packed record unpacks a copy; its
next line unpacks it for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import sys
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mailserver.events import Event, EventBus, Subscription, Topic
from mailserver.events.model import current_pid
from mailserver.transcripts import packing
from mailserver.transcripts.recorder import SessionRecorder, cut_deferred, deferring

log = logging.getLogger(__name__)

#: Lines kept per session; a longer session keeps its first lines and counts the rest.
MAX_LINES_PER_SESSION = 5000
#: What one kept batch of lines costs beyond its text (the tuple, the time).
BATCH_OVERHEAD = 96
#: Octets of lines at most in one synced session: one event must stay well
#: below the event channel's line limit (1 MiB).
SYNC_BUDGET = 256 * 1024
_TLS_NOTE = "*TLS established"
#: The counts of every live session (they come with ``session.closed``): one shared
#: read-only mapping instead of an empty dict per session.
_NO_COUNTS: Mapping[str, int] = MappingProxyType({})
#: Seconds a live session's lines must stay unchanged before the sweep packs them.
#: Soon rather than late: what packing frees during a burst of new sessions is
#: reused by the next ones; freed after the burst, it mostly stays in the
#: process as holes (10,000 idle sessions: 250 MB packing after 1 s, 263 MB after
#: 2 s with the sweep falling behind, 275 MB never).
PACK_QUIET = 1.0
#: Seconds between sweeps (while some live session has unpacked lines).
SWEEP_EVERY = 0.25
#: Seconds of packing per sweep at most (15-30 us a session): the event loop is never
#: held up for long, and the sweep keeps up with ~1,300 new idle sessions a second.
SWEEP_BUDGET = 0.01
#: Sessions with more octets than this stay unpacked: one pack stays well under a
#: millisecond, and such sessions are few.
PACK_LIMIT = 64 * 1024
#: The topics of a session's life. An archive hears its own process's without
#: asking the other workers for theirs (``announce=False``); see :meth:`TranscriptArchive.gather`.
SESSION_TOPICS = (
    Topic.SESSION_OPENED,
    Topic.SESSION_LOGIN,
    Topic.SESSION_LINES,
    Topic.SESSION_CLOSED,
)
#: Seconds the other workers go on sending their sessions here after the last
#: console request (or control-socket question) that needed them.
WATCH_SECONDS = 600.0
#: Seconds a console request waits at most for the other workers' sessions.
GATHER_TIMEOUT = 1.0
#: Web logins (``web/presence.py``): every process hears them (``EventBus.broadcast``),
#: watched or not, since any worker may end one that another began.
WEB_PROTOCOLS = ("http", "https")
_requests = itertools.count(1)


def split_lines(packed: str) -> list[tuple[str, str]]:
    """``(direction, text)`` of each line of a ``session.lines`` payload."""
    return [(line[:1], line[1:]) for line in packed.split("\n")]


@dataclass(slots=True, eq=False)
class SessionRecord:
    """One session as the console shows it.

    Its lines are kept as they arrive, one ``(time, packed)`` pair per batch
    with ``packed`` as ``Topic.SESSION_LINES`` carries it: an idle session
    costs a few hundred octets, and keeping a batch is no Python work per
    line. :attr:`lines` unpacks them for the pages that show them.

    A quiet record may be packed (:meth:`pack`): then :attr:`flat` is None and
    :attr:`packed` holds the same batches compressed; everything that reads
    the batches reads them the same either way.
    """

    id: str
    protocol: str
    listener: str
    peer: str
    tls: bool
    started: float
    user: str | None = None
    ended: float | None = None
    counts: Mapping[str, int] = field(default_factory=lambda: _NO_COUNTS)
    #: ``time, packed, time, packed, ...``: the lines of each event, each line its
    #: direction (``C``, ``S`` or ``*``, a note) and its text, joined by ``"\n"``.
    #: One flat list, no tuple per batch: most records are idle sessions.
    flat: list[float | str] | None = field(default_factory=list)
    #: The batches compressed (``packing.pack``) while :attr:`flat` is None.
    packed: bytes | None = None
    #: Lines in :attr:`batches`.
    line_count: int = 0
    dropped: int = 0
    octets: int = 0
    #: The process that serves it (the event's origin): its sessions end with it.
    worker: int = 0
    #: The recorder (this process's) still holding the lines uncut (``recorder.py``,
    #: "Deferred cutting"): they are cut when something reads them.
    pending: SessionRecorder | None = None

    def _cut_pending(self) -> None:
        """Cut the lines kept uncut (once). :attr:`octets` stays the raw size the
        archive counted when the session ended (an upper bound of the cut lines)."""
        recorder, self.pending = self.pending, None
        if recorder is None:
            return
        batches = recorder.cut_lines()  # a live one's come as session.lines events
        if batches:
            octets = self.octets
            for when, packed in batches:
                self.add(when, packed)
            self.octets = octets

    @property
    def ip(self) -> str:
        return self.peer.rpartition(":")[0]

    @property
    def batches(self) -> list[tuple[float, str]]:
        """``(time, packed)`` of each batch of lines, in order."""
        self._cut_pending()
        flat = self.flat
        if flat is None:  # packed: read a copy, keep it packed
            flat = packing.unpack(self.packed or b"")
        return [(float(flat[i]), str(flat[i + 1])) for i in range(0, len(flat), 2)]

    @property
    def lines(self) -> list[tuple[float, str, str]]:
        """``(time, direction, text)`` of every kept line, in order."""
        return [
            (when, line[:1], line[1:])
            for when, packed in self.batches
            for line in packed.split("\n")
        ]

    def add(self, when: float, packed: str) -> None:
        """Keep one batch of lines (up to :data:`MAX_LINES_PER_SESSION`, then only count)."""
        self._cut_pending()
        count = packed.count("\n") + 1
        room = MAX_LINES_PER_SESSION - self.line_count
        if count > room:
            if room <= 0:
                self.dropped += count
                return
            packed = "\n".join(packed.split("\n", room)[:room])
            self.dropped += count - room
            count = room
        if packed.startswith(_TLS_NOTE) or "\n" + _TLS_NOTE in packed:
            self.tls = True
        flat = self.flat
        if flat is None:
            flat = self.flat = packing.unpack(self.packed or b"")
            self.packed = None
        flat += (when, packed)
        self.line_count += count
        self.octets += len(packed) + BATCH_OVERHEAD

    def pack(self) -> bool:
        """Compress the batches kept so far (a quiet session); False if nothing to do."""
        self._cut_pending()
        if not self.flat:
            return False
        self.packed = packing.pack(self.flat)
        self.flat = None
        return True

    def summary(self) -> dict[str, Any]:
        """JSON-friendly facts without the lines."""
        self._cut_pending()  # the line count
        return {
            "session": self.id,
            "protocol": self.protocol,
            "listener": self.listener,
            "peer": self.peer,
            "tls": self.tls,
            "user": self.user,
            "started": self.started,
            "ended": self.ended,
            "counts": dict(self.counts),
            "lines": self.line_count + self.dropped,
            # Whether the lines are kept compressed (a quiet session): for the operator
            # and the tests, which cannot see it otherwise.
            "packed": self.flat is None,
        }

    def matches(self, user: str = "", address: str = "", protocol: str = "") -> bool:
        """The console's filters: account, client address (prefix) and protocol."""
        if user and (self.user or "").lower() != user.lower():
            return False
        if address and not self.peer.startswith(address):
            return False
        return not protocol or self.protocol == protocol.lower()

    def to_json(self, budget: int = 0) -> dict[str, Any]:
        """Everything, for another process; with ``budget``, the batches that fit in
        about that many octets (the rest counted as dropped), to stay within one event."""
        batches = self.batches  # cut first, if they were kept uncut
        dropped = self.dropped
        if budget and self.octets > budget:
            used, keep = 0, 0
            for _, packed in batches:
                used += len(packed) + BATCH_OVERHEAD
                if used > budget:
                    break
                keep += 1
            dropped += sum(packed.count("\n") + 1 for _, packed in batches[keep:])
            batches = batches[:keep]
        return {
            "id": self.id,
            "protocol": self.protocol,
            "listener": self.listener,
            "peer": self.peer,
            "tls": self.tls,
            "started": self.started,
            "user": self.user,
            "ended": self.ended,
            "counts": dict(self.counts),
            "batches": [[when, packed] for when, packed in batches],
            "dropped": dropped,
            "worker": self.worker,
        }

    @classmethod
    def from_json(cls, data: Any) -> SessionRecord | None:
        """What :meth:`to_json` made, or None for anything malformed."""
        try:
            if "batches" in data:
                batches = [(float(t), str(p)) for t, p in data["batches"]]
            else:  # a worker of the release before batches, during a SIGHUP
                batches = [(float(t), str(d)[:1] + str(x)) for t, d, x in data["lines"]]
            ended = data.get("ended")
            record = cls(
                id=str(data["id"]),
                protocol=sys.intern(str(data["protocol"])),
                listener=sys.intern(str(data["listener"])),
                peer=str(data["peer"]),
                tls=bool(data["tls"]),
                started=float(data["started"]),
                user=None if data.get("user") is None else sys.intern(str(data["user"])),
                ended=None if ended is None else float(ended),
                counts={str(k): int(v) for k, v in dict(data.get("counts") or {}).items()},
                dropped=int(data.get("dropped", 0)),
                worker=int(data.get("worker", 0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
        for when, packed in batches:
            record.add(when, packed)
        return record

    def formatted(self) -> list[str]:
        """Every kept line as ``12:03:04.512 C: EHLO pc1`` (one time stamp per batch)."""
        out: list[str] = []
        for when, packed in self.batches:
            stamp = format_stamp(when)
            out.extend(f"{stamp} {line[:1]}: {line[1:]}" for line in packed.split("\n"))
        return out

    def text(self) -> str:
        """The transcript as a plain text file (what the console downloads)."""
        head = (
            f"# {self.protocol} session {self.id} on {self.listener} from {self.peer}"
            f"{', user ' + self.user if self.user else ''}"
            f"{', TLS' if self.tls else ''}\n"
        )
        body = "".join(line + "\n" for line in self.formatted())
        tail = f"# ... {self.dropped} more lines not kept\n" if self.dropped else ""
        return head + body + tail


def format_stamp(when: float) -> str:
    """``12:03:04.512``: local time to the millisecond."""
    return time.strftime("%H:%M:%S", time.localtime(when)) + f".{int(when * 1000) % 1000:03d}"


def format_line(when: float, direction: str, text: str) -> str:
    """``12:03:04.512 C: EHLO pc1``: the shape of every transcript line."""
    return f"{format_stamp(when)} {direction}: {text}"


@dataclass(slots=True)
class _Question:
    """A ``session.sync`` question of :meth:`TranscriptArchive.gather`."""

    request: str
    #: How many workers answer (the hub's count).
    expected: int
    #: Done once they all said ``done``, or the wait is over.
    answered: asyncio.Future[None]
    #: The workers that said ``done``.
    heard_from: set[int] = field(default_factory=set)


class TranscriptArchive:
    """Subscribes to ``session.*``; answers "who is connected" and "what did they type".

    Each worker's archive keeps the sessions it serves itself and the web
    logins; the other workers' sessions come only when something reads the
    archive (:meth:`gather`: a console page, the control socket). Sending
    every session to every worker as it happened cost each SMTP message a
    JSON encoding, a hop through the supervisor and a decoding in the other
    worker, about 0.15 ms of the 0.95 ms a message costs the whole server,
    for a console that is mostly closed. Once gathered, the others send
    their sessions live for :data:`WATCH_SECONDS` after the last read, so an
    open console sees everything as it happens, as before.
    """

    def __init__(self, keep_sessions: int = 200, keep_octets: int = 16 * 1024 * 1024) -> None:
        self.keep_sessions = keep_sessions
        self.keep_octets = keep_octets
        self.live: dict[str, SessionRecord] = {}
        self.finished: OrderedDict[str, SessionRecord] = OrderedDict()
        self._finished_octets = 0
        self._subscriptions: list[Subscription] = []
        self._bus: EventBus | None = None
        #: Sessions that ended here unknown (begun before this process): a synced
        #: copy of one of them must not come back as live for ever.
        self._ended_unknown: deque[str] = deque(maxlen=1000)
        #: Live sessions with unpacked lines, by the ``time.monotonic()`` of their last
        #: change, least recent first: what the sweep packs once they are quiet.
        self._recent: OrderedDict[str, float] = OrderedDict()
        self._sweeper: asyncio.TimerHandle | None = None
        #: Sessions packed so far (for tests and the operator).
        self.packed_count = 0
        self._workers: dict[int, int] = {}
        #: While gathered: the announcing subscriptions that make the other workers
        #: send their sessions here.
        self._watch: list[Subscription] = []
        #: ``time.monotonic()`` until which the watch stays.
        self._watch_until = 0.0
        self._watch_timer: asyncio.TimerHandle | None = None
        #: The question of the gathering in flight, or answered during this watch.
        self._question: _Question | None = None

    def attach(self, bus: EventBus) -> None:
        handlers = {
            Topic.SESSION_OPENED: self._opened,
            Topic.SESSION_LOGIN: self._login,
            Topic.SESSION_LINES: self._lines,
            Topic.SESSION_CLOSED: self._closed,
            Topic.SESSION_SYNC: self._sync,
            Topic.CONTROL: self._control,
        }
        self._bus = bus
        for topic, handler in handlers.items():
            announce = topic not in SESSION_TOPICS
            self._subscriptions.append(bus.subscribe(topic, handler, announce=announce))

    def ask(self) -> str:
        """Ask the other processes for the sessions they keep; the request's id.

        A worker that started late asks at once, so that what the workers it
        replaced kept (they end soon) is not lost; :meth:`gather` asks too."""
        request = f"{current_pid()}-{next(_requests)}"
        if self._bus is not None:
            self._bus.emit(Topic.SESSION_SYNC, action="ask", request=request)
        return request

    async def gather(self, timeout: float = GATHER_TIMEOUT) -> None:
        """Have every worker's sessions here, and live, for what reads the archive now.

        The first call asks the other workers to send their sessions from now
        on (an announcing subscription) and for the ones they keep, and waits
        until each has answered (at most ``timeout`` seconds: a stuck worker
        delays a console page, it does not hang it). Later calls within
        :data:`WATCH_SECONDS` return at once (or wait for that first answer).
        """
        bus = self._bus
        if bus is None:
            return
        cut_deferred()  # this worker's live sessions kept uncut: their lines now
        self._watch_until = time.monotonic() + WATCH_SECONDS
        if not self._watch:
            self._forget_others_live()  # they may have ended unheard: fresh copies come
            self._watch = [bus.subscribe(topic, _ignore, announce=True) for topic in SESSION_TOPICS]
            self._arm_watch()
            peers = bus.peers
            if peers != 0:
                # How many answer is unknown under a hub of an earlier release: wait
                # out the timeout (once per watch), taking what comes meanwhile.
                self._question = _Question(
                    self.ask(),
                    peers if peers is not None else sys.maxsize,
                    asyncio.get_running_loop().create_future(),
                )
        question = self._question
        if question is None or question.answered.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(question.answered), timeout)
        except TimeoutError:
            if bus.peers is not None:
                log.warning("transcripts: not every worker answered within %.1f s", timeout)
            # Late answers still add their sessions; nobody waits for them any more.
            if not question.answered.done():
                question.answered.set_result(None)

    def _arm_watch(self) -> None:
        if self._watch_timer is None:
            with contextlib.suppress(RuntimeError):  # no loop (a unit test): stays
                delay = max(self._watch_until - time.monotonic(), 0.0)
                self._watch_timer = asyncio.get_running_loop().call_later(delay, self._watch_ends)

    def _watch_ends(self) -> None:
        """No reader for :data:`WATCH_SECONDS`: the other workers stop sending."""
        self._watch_timer = None
        if time.monotonic() < self._watch_until:
            self._arm_watch()
            return
        for subscription in self._watch:
            subscription.close()
        self._watch = []
        self._question = None
        bus = self._bus
        if bus is None or not any(topic in bus.local_topics() for topic in SESSION_TOPICS):
            # Nothing here hears their ends any more (a console's live page, the
            # transcript files would): their live sessions would stay "connected".
            self._forget_others_live()

    def _forget_others_live(self) -> None:
        """Drop the other workers' live mail sessions (finished ones stay true for ever)."""
        here = current_pid()
        for record in [r for r in self.live.values() if r.worker != here]:
            if record.protocol not in WEB_PROTOCOLS:
                del self.live[record.id]
                self._recent.pop(record.id, None)

    def _sync(self, event: Event) -> None:
        if event.origin == current_pid():
            return
        data = event.data
        action = data.get("action")
        if action == "ask":
            self._answer(event.origin, data.get("request"))
            return
        to = data.get("to")
        if to is not None and to != current_pid():
            return  # an answer to another worker's question
        if action == "record":
            synced = SessionRecord.from_json(data.get("record"))
            if synced is not None:
                self._adopt(synced)
        elif action == "done":
            question = self._question
            if question is not None and data.get("request") == question.request:
                question.heard_from.add(event.origin)
                if len(question.heard_from) >= question.expected and not question.answered.done():
                    question.answered.set_result(None)

    def hand_over(self) -> None:
        """A worker that stops (SIGHUP replaces the workers one at a time) gives what
        it keeps to the others, which would otherwise never see its sessions again:
        each record to every process, as an unaddressed answer."""
        bus = self._bus
        if bus is not None and bus.peers != 0:
            self._send_records(bus)

    def _answer(self, asker: int, request: object) -> None:
        """Every session kept here, to ``asker`` alone, then ``done``."""
        bus = self._bus
        if bus is None:
            return
        cut_deferred()
        self._send_records(bus, to=asker)
        bus.emit(Topic.SESSION_SYNC, action="done", request=request, to=asker)

    def _send_records(self, bus: EventBus, **address: int) -> None:
        """One ``record`` answer per session kept (``to`` one asker, or to all)."""
        for record in [*self.finished.values(), *self.live.values()]:
            bus.emit(
                Topic.SESSION_SYNC, action="record", record=record.to_json(SYNC_BUDGET), **address
            )

    def _control(self, event: Event) -> None:
        """A worker died (``worker.gone`` from the supervisor): its mail sessions are over,
        though nobody sent their ``session.closed``. Web logins outlive a worker."""
        if event.data.get("action") != "worker.gone":
            return
        pid = event.data.get("pid")
        for record in [r for r in self.live.values() if r.worker == pid]:
            if record.protocol in ("http", "https"):
                continue
            record.add(event.time, "*connection lost: its worker process ended")
            self._closed(
                Event(
                    Topic.SESSION_CLOSED,
                    {"session": record.id, "counts": record.counts, "tls": record.tls},
                    time=event.time,
                    origin=event.origin,
                )
            )

    def _adopt(self, record: SessionRecord) -> None:
        """Add a session another process kept; idempotent, finished ones in end order."""
        if record.id in self.live or record.id in self.finished:
            return
        if record.ended is None:
            if record.id not in self._ended_unknown:
                self.live[record.id] = record
                self._changed(record.id)
            return
        self.finished[record.id] = record
        self._finished_octets += record.octets
        if len(self.finished) > 1:
            ordered = sorted(self.finished.values(), key=lambda r: r.ended or 0.0)
            self.finished = OrderedDict((r.id, r) for r in ordered)
        self._trim()

    def detach(self) -> None:
        for subscription in [*self._subscriptions, *self._watch]:
            subscription.close()
        self._subscriptions.clear()
        self._watch.clear()
        if self._watch_timer is not None:
            self._watch_timer.cancel()
            self._watch_timer = None
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    # --------------------------------------------------------------- packing

    def _changed(self, session_id: str) -> None:
        """A live session's lines changed: pack it once it has been quiet a while."""
        recent = self._recent
        recent[session_id] = time.monotonic()
        recent.move_to_end(session_id)
        if self._sweeper is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop (a unit test): sweep() is called by hand
            self._sweeper = loop.call_later(SWEEP_EVERY, self._sweep_tick)

    def _sweep_tick(self) -> None:
        self._sweeper = None
        self.sweep()
        if self._recent:
            self._sweeper = asyncio.get_running_loop().call_later(SWEEP_EVERY, self._sweep_tick)

    def sweep(
        self, now: float | None = None, budget: float = SWEEP_BUDGET, quiet: float = PACK_QUIET
    ) -> int:
        """Pack the live sessions quiet for ``quiet`` seconds, least recent first, for at
        most ``budget`` seconds of work; the number packed."""
        now = time.monotonic() if now is None else now
        started = time.perf_counter()
        recent, live = self._recent, self.live
        packed = 0
        while recent:
            session_id, changed = next(iter(recent.items()))
            if now - changed < quiet:
                break
            del recent[session_id]
            record = live.get(session_id)
            if record is not None and record.octets <= PACK_LIMIT and record.pack():
                packed += 1
                if time.perf_counter() - started > budget:
                    break
        self.packed_count += packed
        return packed

    # --------------------------------------------------------------- feed

    def _opened(self, event: Event) -> None:
        data = event.data
        self.live[str(data["session"])] = SessionRecord(
            id=str(data["session"]),
            protocol=sys.intern(str(data.get("protocol", ""))),
            listener=sys.intern(str(data.get("listener", ""))),
            peer=str(data.get("peer", "")),
            tls=bool(data.get("tls")),
            started=event.time,
            # One int per worker (a decoded event's origin is a new object each time).
            worker=self._worker(event.origin),
            pending=deferring(str(data["session"])),
        )

    def _worker(self, pid: int) -> int:
        if len(self._workers) > 64:  # workers restarted many times: start again
            self._workers.clear()
        return self._workers.setdefault(pid, pid)

    def _login(self, event: Event) -> None:
        record = self.live.get(str(event.data.get("session")))
        if record is not None:
            # One string per account, not per session (10,000 idle sessions, 100 users).
            record.user = sys.intern(str(event.data.get("user")))

    def _lines(self, event: Event) -> None:
        record = self.live.get(str(event.data.get("session")))
        packed = event.data.get("lines")
        if record is not None and isinstance(packed, str) and packed:
            record.add(event.time, packed)
            self._changed(record.id)

    def _closed(self, event: Event) -> None:
        record = self.live.pop(str(event.data.get("session")), None)
        self._recent.pop(str(event.data.get("session")), None)
        if record is None:
            self._ended_unknown.append(str(event.data.get("session")))
            return
        record.ended = event.time
        if record.pending is not None:  # ended uncut: kept so, counted at their raw size
            record.octets += record.pending.uncut_octets
            if not record.pending.uncut_octets:
                record.pending = None  # cut while it ran
        record.counts = dict(event.data.get("counts") or {})
        record.tls = bool(event.data.get("tls", record.tls))
        user = event.data.get("user")
        record.user = sys.intern(str(user)) if user else record.user
        if self.keep_sessions <= 0:
            return
        self.finished[record.id] = record
        self._finished_octets += record.octets
        self._trim()

    def _trim(self) -> None:
        while self.finished and (
            len(self.finished) > self.keep_sessions or self._finished_octets > self.keep_octets
        ):
            _, oldest = self.finished.popitem(last=False)
            self._finished_octets -= oldest.octets

    # -------------------------------------------------------------- query

    def get(self, session_id: str) -> SessionRecord | None:
        return self.live.get(session_id) or self.finished.get(session_id)

    def sessions(self) -> Iterator[SessionRecord]:
        """Live sessions first, then finished ones, newest first."""
        yield from sorted(self.live.values(), key=lambda r: r.started, reverse=True)
        yield from reversed(self.finished.values())

    def connected(self) -> list[dict[str, Any]]:
        """Who is connected now, oldest first."""
        return [r.summary() for r in sorted(self.live.values(), key=lambda r: r.started)]


_ARCHIVES: weakref.WeakKeyDictionary[EventBus, TranscriptArchive] = weakref.WeakKeyDictionary()


def _ignore(event: Event) -> None:
    """The watch's handler: the archive's own (quiet) subscriptions take the events."""


def shared_archive(
    bus: EventBus, keep_sessions: int = 200, keep_octets: int = 16 * 1024 * 1024
) -> TranscriptArchive:
    """The one archive listening on ``bus``, created and attached on first use.

    The server creates it at start-up with the configured bounds; the web
    console (and anything else) finds the same one here instead of keeping
    a second copy of every transcript.
    """
    archive = _ARCHIVES.get(bus)
    if archive is None:
        archive = TranscriptArchive(keep_sessions, keep_octets)
        archive.attach(bus)
        _ARCHIVES[bus] = archive
    return archive


def release_archive(bus: EventBus) -> None:
    """Detach and forget the archive of ``bus`` (server shutdown)."""
    archive = _ARCHIVES.pop(bus, None)
    if archive is not None:
        archive.detach()
