"""The parse helper's side of :mod:`.pool`: what runs in the helper processes.

A module of its own so that a helper, a fresh interpreter started by the
first big FETCH, imports only the parse and this: importing :mod:`.pool`
(asyncio) and the maildir store cost each helper about 0.1 s of CPU at
start, which a cold FETCH of 20,000 messages paid as 5 us a message. The
event loop runs :func:`parse_batch` too, in a thread, for the batches the
FETCH's writer takes itself.
"""

from __future__ import annotations

import ctypes
import marshal
import os
import signal
import socket
import struct

from mailserver.imap.mime import sidecar as sidecar_file
from mailserver.imap.mime.message import ParsedMessage
from mailserver.lineends import to_wire

#: One message's answer: ENVELOPE, BODY, BODYSTRUCTURE as rendered by
#: :meth:`ParsedMessage.parse`; None when the file is gone or changed.
Rendered = tuple[bytes, bytes, bytes]
#: A batch's answer: the renderings in order, and the keys whose sidecar
#: entries the helper appended to the sidecar file.
Answer = tuple[list[Rendered | None], list[str]]
#: One message of a request: file path, expected size, and the maildir key
#: under which its sidecar entry is stored ("" for none).
Item = tuple[str, int, str]

#: A frame: this 4-byte length, then a ``marshal`` payload (both directions).
HEADER = struct.Struct("<I")
_PR_SET_PDEATHSIG = 1


def parse_one(
    path: str, size: int, dir_fd: int | None = None
) -> tuple[Rendered, ParsedMessage] | None:
    """The renderings (and parse) of one message file as ``Folder.read`` sees it;
    None if it is gone or changed. ``dir_fd``: an open descriptor of the file's
    directory, ``path`` then being the name in it."""
    try:
        # At most one byte more than the size: the file on disk is never
        # longer than what ``to_wire`` makes of it, so a longer one is a changed
        # message however much more it holds.
        data = to_wire(read_file(path, size + 1, dir_fd))
    except OSError:
        return None
    if len(data) != size:
        return None
    parsed = ParsedMessage.parse(data)
    return (parsed.envelope(), parsed.bodystructure(False), parsed.bodystructure(True)), parsed


def read_file(path: str, limit: int, dir_fd: int | None = None) -> bytes:
    """At most ``limit`` bytes of a file, in one ``read``; ``dir_fd`` as for ``os.open``.

    ``os.open``/``os.read`` rather than ``open()``: no buffered file object per
    message, which cost about as much as the parse of a small one. One
    ``read``, not a loop until the end: the second ``read`` that finds the end
    of a shorter file (the usual case here: a file with LF line ends is
    shorter than its wire size) was a system call per message. A regular
    file's ``read`` comes back short only at its end on Linux; should a file
    system return less anyway, the size check in :func:`parse_one` sends the
    message to the ordinary path, never to a wrong parse."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        return os.read(fd, limit)
    finally:
        os.close(fd)


def parse_batch(sidecar: str | None, items: list[Item]) -> Answer:
    """Parse ``items``; append the sidecar entries of the parsed ones to ``sidecar``."""
    results: list[Rendered | None] = []
    keys: list[str] = []
    lines: list[bytes] = []
    # Each file opened by its name in an open directory (``openat``): the
    # kernel then resolves one component, not the whole path (about 1 us a
    # message of the 4-5 an open and read cost).
    directories: dict[str, int | None] = {}
    try:
        for path, size, key in items:
            folder, _, name = path.rpartition("/")
            if folder not in directories:
                directories[folder] = _open_directory(folder) if folder else None
            dir_fd = directories[folder]
            done = parse_one(path if dir_fd is None else name, size, dir_fd)
            if done is None:
                results.append(None)
                continue
            rendered, parsed = done
            results.append(rendered)
            if sidecar and key and len(parsed.header) <= sidecar_file.MAX_PERSISTED_ENTRY:
                keys.append(key)
                lines.append(b"%s\t%s\n" % (key.encode(), parsed.entry_bytes()))
    finally:
        for fd in directories.values():
            if fd is not None:
                os.close(fd)
    if lines and sidecar is not None and not sidecar_file.append(sidecar, b"".join(lines)):
        keys = []
    return results, keys


def _open_directory(path: str) -> int | None:
    """A descriptor of the directory ``path`` for ``dir_fd``; None if it cannot be opened."""
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None


def serve(fd: int, parent: int) -> None:
    """The helper's main loop: requests in, answers out, until the socket closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the closed socket still ends the helper
    if os.getppid() != parent:
        return
    with socket.socket(fileno=fd) as sock, sock.makefile("rb") as incoming:
        while True:
            head = incoming.read(HEADER.size)
            if len(head) < HEADER.size:
                return
            (length,) = HEADER.unpack(head)
            body = incoming.read(length)
            if len(body) < length:
                return
            sidecar, items = marshal.loads(body)
            answer = marshal.dumps(parse_batch(sidecar, items))
            sock.sendall(HEADER.pack(len(answer)) + answer)
