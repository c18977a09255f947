"""``workers: N``: a supervisor process and N worker processes on one data_dir.

``supervisor`` binds the listeners, starts and restarts the workers and
hosts the event hub; ``worker`` is the entry point of one worker process.

:func:`worker_index` tells code that must run once per server rather than
once per process (a queue runner without per-entry locks, a periodic
clean-up) whether this process is the one to do it.
"""

from __future__ import annotations

_index: int | None = None


def worker_index() -> int | None:
    """This process's worker number (0 .. N-1), or None in a single-process server.

    ``worker_index() in (None, 0)`` is true in exactly one process of a
    running server (worker 0 is restarted under the same number).
    """
    return _index


def _set_worker_index(index: int) -> None:
    global _index
    _index = index
