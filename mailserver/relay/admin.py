"""What ``mailserver queue`` does to the queue directory, safe while servers run.

No connection to the server is needed: every change is made to the entry
files under the queue-wide lock and the entry's own lock (the one a manager
holds while delivering), and running managers notice changed envelopes at
their next scan (``relay.scan_interval``, a second by default). An entry
being delivered right now is reported as busy rather than changed under the
manager's feet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mailserver.relay.queue import Entry, QueueStore, valid_id

#: How long ``delete`` and ``retry`` wait for an entry that is being delivered.
BUSY_WAIT = 10.0


class QueueAdminError(Exception):
    """Shown to the operator as is."""


@dataclass(frozen=True)
class Changed:
    done: list[str]
    busy: list[str]


def entries(store: QueueStore) -> list[Entry]:
    result = []
    for queue_id in store.ids():
        entry = store.load(queue_id)
        if entry is not None:
            result.append(entry)
    return sorted(result, key=lambda e: e.created)


def find(store: QueueStore, queue_id: str) -> Entry:
    wanted = queue_id.strip().upper()
    entry = store.load(wanted) if valid_id(wanted) else None
    if entry is None:
        raise QueueAdminError(f"no queue entry {queue_id}")
    return entry


def flush(store: QueueStore) -> Changed:
    """Every deferred recipient is due now."""
    with store.directory_lock():
        return _change(store, store.ids(), _make_due, wait=0.0)


def retry(store: QueueStore, queue_id: str) -> Changed:
    entry = find(store, queue_id)
    with store.directory_lock():
        return _change(store, [entry.id], _make_due, wait=BUSY_WAIT)


def delete(store: QueueStore, queue_id: str | None) -> Changed:
    """One entry, or all of them (``queue_id`` None). No notification is sent."""
    ids = store.ids() if queue_id is None else [find(store, queue_id).id]
    with store.directory_lock():
        return _change(store, ids, None, wait=BUSY_WAIT if queue_id else 0.0)


def _make_due(entry: Entry) -> None:
    for rcpt in entry.pending:
        rcpt.next_attempt = 0.0


def _change(
    store: QueueStore, ids: list[str], change: Callable[[Entry], None] | None, wait: float
) -> Changed:
    done: list[str] = []
    busy: list[str] = []
    for queue_id in ids:
        deadline = time.monotonic() + wait
        while True:
            with store.lock_entry(queue_id) as locked:
                if locked:
                    entry = store.load(queue_id)
                    if entry is not None:
                        if change is None:
                            store.remove(queue_id)
                        else:
                            change(entry)
                            store.save(entry)
                        done.append(queue_id)
                    break
            if time.monotonic() >= deadline or not store.message_path(queue_id).exists():
                if store.message_path(queue_id).exists():
                    busy.append(queue_id)
                break
            time.sleep(0.1)
    return Changed(done, busy)


def describe(entry: Entry) -> list[str]:
    """``queue list`` lines for one entry, in the style of ``postqueue -p``."""
    arrival = time.strftime("%a %b %d %H:%M:%S", time.localtime(entry.created))
    sender = entry.sender or "MAILER-DAEMON"
    lines = [f"{entry.id:<12} {entry.size:>8} {arrival}  {sender}"]
    for rcpt in entry.recipients:
        if not rcpt.pending:
            continue
        if rcpt.last_reply:
            lines.append(f"{'':21}({rcpt.last_reply})")
        lines.append(f"{'':41}{rcpt.address}")
    return lines
