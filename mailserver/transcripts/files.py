"""One text file per session under ``transcripts.dir``, for ``tail -f``.

Fed from the event channel. The writing happens in one background thread
(blocking file I/O stays off the event loop) behind a bounded queue: if the
disk cannot keep up, lines are dropped and counted rather than piling up.
A ``session.lines`` event is one queue item (its lines written at once).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import threading
import time
from pathlib import Path
from typing import IO

from mailserver.events import Event, EventBus, Subscription, Topic
from mailserver.transcripts.archive import format_line, format_stamp

log = logging.getLogger(__name__)

#: Items (batches of lines) waiting for the writer thread; beyond this they are dropped.
QUEUE_LIMIT = 20_000
#: Files open at once (one per live session); beyond this a session gets no file.
MAX_OPEN = 2000
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

_Item = tuple[str, str, str] | None  # (kind, session, text); None stops the thread


class TranscriptFiles:
    """Writes ``<dir>/<YYYYmmdd-HHMMSS>-<protocol>-<ip>_<port>-<session>.log``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.dropped = 0
        self._queue: queue.Queue[_Item] = queue.Queue(QUEUE_LIMIT)
        self._thread: threading.Thread | None = None
        self._subscriptions: list[Subscription] = []
        self._files: dict[str, IO[str]] = {}
        #: Live mail sessions -> the worker serving them (the opening event's origin),
        #: so that a worker's death ends their files (``worker.gone``). Event-loop side.
        self._workers: dict[str, int] = {}

    def attach(self, bus: EventBus) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="transcript-files", daemon=True)
        self._thread.start()
        for topic in (Topic.SESSION_OPENED, Topic.SESSION_LINES, Topic.SESSION_CLOSED):
            self._subscriptions.append(bus.subscribe(topic, self._on_event))
        # Logins show as a note in the file too.
        self._subscriptions.append(bus.subscribe(Topic.SESSION_LOGIN, self._on_event))
        self._subscriptions.append(bus.subscribe(Topic.CONTROL, self._on_control))

    def _on_control(self, event: Event) -> None:
        """A worker died without closing its sessions: end their files (and free them)."""
        if event.data.get("action") != "worker.gone":
            return
        pid = event.data.get("pid")
        for session in [s for s, worker in self._workers.items() if worker == pid]:
            del self._workers[session]
            self._put(("close", session, "# connection lost: its worker process ended"))

    def close(self) -> None:
        """Stop listening, write what is queued, close every file."""
        for subscription in self._subscriptions:
            subscription.close()
        self._subscriptions.clear()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def _on_event(self, event: Event) -> None:
        data = event.data
        session = str(data.get("session"))
        if event.topic == Topic.SESSION_OPENED:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(event.time))
            peer = str(data.get("peer", "")).replace(":", "_")
            name = _UNSAFE.sub("_", f"{stamp}-{data.get('protocol')}-{peer}-{session}") + ".log"
            header = (
                f"# {data.get('protocol')} session {session} on {data.get('listener')} "
                f"from {data.get('peer')}{' (TLS)' if data.get('tls') else ''}"
            )
            self._put(("open", session, name + "\n" + header))
            if data.get("protocol") not in ("http", "https") and len(self._workers) < MAX_OPEN:
                self._workers[session] = event.origin  # web logins outlive a worker
        elif event.topic == Topic.SESSION_LINES:
            packed = data.get("lines")
            if isinstance(packed, str) and packed:
                stamp = format_stamp(event.time)
                lines = "\n".join(f"{stamp} {line[:1]}: {line[1:]}" for line in packed.split("\n"))
                self._put(("line", session, lines))
        elif event.topic == Topic.SESSION_LOGIN:
            line = format_line(event.time, "*", f"logged in as {data.get('user')}")
            self._put(("line", session, line))
        else:
            self._workers.pop(session, None)
            counts = " ".join(f"{k}={v}" for k, v in sorted((data.get("counts") or {}).items()))
            text = (
                f"# ended after {data.get('duration')}s, user {data.get('user') or '-'}"
                f"{', ' + counts if counts else ''}"
            )
            self._put(("close", session, text))

    def _put(self, item: tuple[str, str, str]) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    # ------------------------------------------------------ writer thread

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            try:
                self._write(*item)
            except OSError as exc:
                log.warning("transcript file for %s: %s", item[1], exc.strerror)
            if self._queue.empty():
                for file in self._files.values():
                    with contextlib.suppress(OSError):
                        file.flush()
        for file in self._files.values():
            with contextlib.suppress(OSError):
                file.close()
        self._files.clear()

    def _write(self, kind: str, session: str, text: str) -> None:
        if kind == "open":
            if len(self._files) >= MAX_OPEN:
                return
            name, _, header = text.partition("\n")
            opened: IO[str] = open(self.directory / name, "a", encoding="utf-8")  # noqa: SIM115
            self._files[session] = opened
            opened.write(header + "\n")
            return
        file = self._files.get(session)
        if file is None:
            return
        file.write(text + "\n")
        if kind == "close":
            file.close()
            del self._files[session]
