"""The cycle collector set for a server that has finished starting.

CPython starts a young-generation collection every 700 net allocations of
container objects, and every tenth of those also collects the middle
generation. A server process allocates far more than that per second (an
SMTP session of one message: its protocol, streams, futures, the
transcript's events, the decoded events of the other workers' sessions)
and each collection walks every young object, so with one connection per
message the collector was 4-5% of a worker's event loop (py-spy
``--native``, ``bench/profile_server.py smtp``), much of it inside
``json.loads`` of event-channel messages.

:func:`settle` runs once the listeners accept: it collects what start-up
left behind, moves everything alive then (modules, configuration, the
user database, compiled patterns) out of the collector's view for good
(``gc.freeze``: start-up objects are never garbage, and a full collection
no longer walks them), and sets a young threshold of
:data:`YOUNG_THRESHOLD`: fewer collections, and fewer objects of sessions
still running promoted to the older generations, which are then walked
again. Cyclic garbage (an ended SMTP session's protocol and task, which
reference each other) is still collected, some thousands of allocations
later than before (a few MB at most; 5,000 idle IMAP sessions took the
same memory with 7,000 and 25,000); nothing else changes.

Alternating ``bench/server_cpu.py smtp`` runs: 7,000 took 4-7% off the
workers' event loops' user CPU per message against CPython's 700, 25,000
another 5-10% against 7,000.
"""

from __future__ import annotations

import gc

#: Net container allocations between young collections (CPython's default: 700).
YOUNG_THRESHOLD = 25_000
#: Young collections per middle one, middle ones per full one (CPython's defaults).
OLDER_THRESHOLDS = (10, 10)


def settle() -> None:
    """Freeze what start-up built and space the young collections (module docstring)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
