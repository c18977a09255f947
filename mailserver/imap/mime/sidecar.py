"""The parse cache's per-folder file (``mailserver-imap-cache``): its format and limits.

Two writers append to it -- the event loop's :class:`cache.MessageCache` and
the parse helpers of :mod:`pool` (other processes) -- and both must agree on
the first line, the size limits and how a batch of lines is written (one
``O_APPEND`` write, so the lines of two writers never interleave). So they
live here, once.
"""

from __future__ import annotations

import os

from mailserver.imap.mime.message import FORMAT_VERSION

NAME = "mailserver-imap-cache"
#: The file's first line (without its line end); another one means another format.
MAGIC = f"{NAME} {FORMAT_VERSION}"
#: Entries with bigger headers stay memory-only.
MAX_PERSISTED_ENTRY = 64 * 1024
#: A bigger file is neither loaded nor appended to (it is rebuilt instead).
MAX_SIDECAR_BYTES = 64 * 1024 * 1024


def write_all(fd: int, blob: bytes) -> None:
    """Write ``blob`` to ``fd`` whole (an ``O_APPEND`` descriptor: one write in practice)."""
    view = memoryview(blob)
    while view:
        view = view[os.write(fd, view) :]
