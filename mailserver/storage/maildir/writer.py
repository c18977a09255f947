"""Deliveries of one process written in batches, one thread call per batch.

Each delivery used to be its own thread call: a wake-up of a pool thread,
the thread's dozen system calls each giving the GIL back to a busy event
loop and taking it again (two workers' ``strace`` counted about 45 ``futex``
calls per SMTP message, most of the kernel time the workload spends besides
creating files), and a completion sent back to the loop. Here the loop
queues deliveries, and one thread call at a time writes everything queued
by then: each message created in ``tmp/``, then each fsync'd (all written
before the first fsync, so that a journaling file system commits them
together, ``io.start_new_file``), then per folder
every file renamed into ``new/`` with one directory fsync
(``Placement._deliver_batch``), then one completion for the whole batch.
While a batch is on disk the next one gathers, so the batches grow with
the load, as a group commit's do.

Durability is unchanged: a delivery's future completes only after its file
and its directory entry are fsync'd. A failure is per message where it can
be (one file that cannot be written fails that delivery) and per folder
where it must be (a failed rename or directory fsync fails, and removes,
every file of that folder in the batch).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailserver.storage.maildir import io
from mailserver.storage.maildir.placement import Arrival

if TYPE_CHECKING:
    from mailserver.storage.maildir.folder import MaildirFolder

log = logging.getLogger(__name__)

#: Deliveries in one thread call at most (a burst is written in several calls).
MAX_BATCH = 64


@dataclass(slots=True)
class _Job:
    folder: MaildirFolder
    #: The message, or None when it comes staged already (``arrival``).
    data: bytes | None
    future: asyncio.Future[None]
    arrival: Arrival | None = None
    error: BaseException | None = field(default=None)


class DeliveryWriter:
    """One event loop's queue of deliveries and the one batch being written."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._pending: list[_Job] = []
        self._busy = False

    async def deliver(self, folder: MaildirFolder, data: bytes) -> None:
        """Durable in ``folder``'s ``new/`` on return (see the module docstring)."""
        await self._queue(_Job(folder, data, self.loop.create_future()))

    async def place(self, folder: MaildirFolder, staged: Arrival) -> None:
        """A file already written and fsync'd in ``tmp/`` (a spooled message), put into
        ``new/`` with the batch; on failure its tmp file is removed."""
        await self._queue(_Job(folder, None, self.loop.create_future(), staged))

    async def _queue(self, job: _Job) -> None:
        future = job.future
        self._pending.append(job)
        if not self._busy:
            self._start()
        # Shielded: a cancelled caller (a dropped connection) leaves the write
        # to finish, as a cancelled thread call does; the batch must complete.
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            # Nobody reads this delivery's outcome now: read it when it comes, or
            # a failed batch would be logged once more, as an error "never retrieved".
            future.add_done_callback(_read_outcome)
            raise

    def _start(self) -> None:
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        self._busy = True
        try:
            done = self.loop.run_in_executor(None, _write_batch, batch)
        except RuntimeError as exc:  # the executor is shut down (the loop is closing)
            for job in batch:
                job.error = exc
            self._finished(batch, None)
            return
        done.add_done_callback(lambda future: self._finished(batch, future))

    def _finished(self, batch: list[_Job], future: asyncio.Future[None] | None) -> None:
        """On the loop: complete every delivery of the batch, start the next."""
        self._busy = False
        if future is not None and not future.cancelled() and future.exception() is not None:
            log.error("delivery batch failed", exc_info=future.exception())
        for job in batch:
            if job.future.done():
                continue
            if job.error is not None:
                job.future.set_exception(job.error)
            else:
                job.future.set_result(None)
        if self._pending:
            self._start()


def _read_outcome(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _write_batch(batch: list[_Job]) -> None:
    """In a thread: write, fsync and place every job; errors go to the jobs.

    Every file is written (its writeback started) before the first is fsync'd:
    on a journaling file system the fsyncs then share journal commits instead
    of waiting for one each (``io.start_new_file``)."""
    try:
        for job in batch:
            if job.data is not None:
                try:
                    job.arrival = job.folder._guarded(
                        "storing message", job.folder._stage_delivery_blocking, job.data
                    )
                except BaseException as exc:
                    job.error = exc
        by_folder: dict[int, list[_Job]] = {}
        for job in batch:
            if job.error is not None:
                continue
            arrival = job.arrival
            if arrival is not None and arrival.fd is not None:
                fd, arrival.fd = arrival.fd, None
                try:
                    job.folder._guarded("storing message", io.finish_new_file, fd, arrival.tmp)
                except BaseException as exc:  # the file is removed
                    job.error = exc
                    job.arrival = None
                    continue
            by_folder.setdefault(id(job.folder), []).append(job)
        for jobs in by_folder.values():
            folder = jobs[0].folder
            arrivals = [job.arrival for job in jobs if job.arrival is not None]
            try:
                folder._guarded("storing message", _place, folder, arrivals)
            except BaseException as exc:
                for job in jobs:
                    job.error = exc
                    if job.arrival is not None:
                        with contextlib.suppress(OSError):
                            os.unlink(job.arrival.tmp)  # not renamed yet
    except BaseException as exc:  # a bug: fail what is not done rather than hang
        for job in batch:
            if job.arrival is not None and job.arrival.fd is not None:
                io.abandon_new_file(job.arrival.fd, job.arrival.tmp)
                job.arrival.fd = None
            if job.error is None and not (job.arrival is not None and job.arrival.done):
                job.error = exc
        raise


def _place(folder: MaildirFolder, arrivals: list[Arrival]) -> None:
    """Rename ``arrivals`` into ``new/`` with one directory fsync (raises on failure,
    having removed whatever it renamed)."""
    with folder._deliver_lock:
        folder._check_gone()
        folder._deliver_batch(arrivals)


_writer: DeliveryWriter | None = None


def writer() -> DeliveryWriter:
    """This event loop's writer (made on first use; a new loop gets a new one)."""
    global _writer
    loop = asyncio.get_running_loop()
    current = _writer
    if current is None or current.loop is not loop:
        current = _writer = DeliveryWriter(loop)
    return current


__all__ = ["MAX_BATCH", "DeliveryWriter", "writer"]
