"""The parse cache's per-folder file (``mailserver-imap-cache``): its format and limits.

Two writers append to it -- the event loop's :class:`cache.MessageCache` and
the parse helpers of :mod:`pool` (other processes) -- and both must agree on
the first line, the size limits and how a batch of lines is written (one
``O_APPEND`` write, so the lines of two writers never interleave). So they
live here, once, with the one appender both call (:func:`append`).
"""

from __future__ import annotations

import contextlib
import os

from mailserver.imap.mime.message import FORMAT_VERSION

NAME = "mailserver-imap-cache"
#: The file's first line (without its line end); another one means another format.
MAGIC = f"{NAME} {FORMAT_VERSION}"
_FIRST_LINE = f"{MAGIC}\n".encode()
#: Entries with bigger headers stay memory-only.
MAX_PERSISTED_ENTRY = 64 * 1024
#: A bigger file is neither loaded nor appended to (it is rebuilt instead).
MAX_SIDECAR_BYTES = 64 * 1024 * 1024


def write_all(fd: int, blob: bytes) -> None:
    """Write ``blob`` to ``fd`` whole (an ``O_APPEND`` descriptor: one write in practice)."""
    view = memoryview(blob)
    while view:
        view = view[os.write(fd, view) :]


def append(path: str, blob: bytes) -> bool:
    """Append whole entry lines to a sidecar in one ``O_APPEND`` write (so lines of
    two writers never interleave); creates the file, magic line first, if missing.
    False when nothing was written (folder gone, foreign file, over the size limit)."""
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        except FileNotFoundError:
            if _create(path, blob):
                return True
            continue  # created by someone else meanwhile: append to theirs
        except OSError:
            return False
        try:
            if os.fstat(fd).st_size + len(blob) > MAX_SIDECAR_BYTES:
                return False
            with open(path, "rb") as check:  # not a sidecar of this format: leave it
                if check.read(len(_FIRST_LINE)) != _FIRST_LINE:
                    return False
            write_all(fd, blob)
            return True
        except OSError:
            return False
        finally:
            os.close(fd)
    return False


def _create(path: str, blob: bytes) -> bool:
    """A new sidecar holding ``blob``, put in place only if there is none (link, not rename)."""
    if not os.path.isdir(os.path.dirname(path) or "."):
        return False
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as handle:
            handle.write(_FIRST_LINE + blob)
        os.link(tmp, path)
        return True
    except OSError:  # FileExistsError included: somebody else's is in place
        return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
