"""Removing what a crash left in maildir ``tmp/`` folders.

A message is written to ``tmp/``, fsync'd and only then renamed into
``new/`` or ``cur/``, so a ``kill -9`` mid-write leaves at most a file in
``tmp/``: never visible, but it holds disk space (a streamed 60 MiB upload
holds 60 MiB). At start-up :func:`clean_tmp` removes such files: those this
host's processes named (``P<pid>`` in the maildir unique name) whose process
no longer runs, and any file older than 36 hours, Dovecot's rule for files
of other programs and other hosts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

from mailserver.storage.maildir import io
from mailserver.storage.spool import writer_alive

log = logging.getLogger(__name__)

#: Dovecot deletes tmp/ files not touched for this long.
STALE_AFTER = 36 * 3600
_OURS = re.compile(r"^\d+\.M\d+P(\d+)Q\d+\.(.+?),S=")


def clean_tmp(mail_dir: Path, now: float | None = None) -> int:
    """Remove abandoned files from every maildir ``tmp/`` under ``mail_dir``; returns how many."""
    now = time.time() if now is None else now
    removed = 0
    for tmp in _tmp_dirs(mail_dir):
        try:
            entries = list(os.scandir(tmp))
        except OSError:
            continue
        for entry in entries:
            with contextlib.suppress(OSError):
                if entry.is_file(follow_symlinks=False) and _abandoned(entry, now):
                    os.unlink(entry.path)
                    removed += 1
    if removed:
        log.info("removed %d abandoned file(s) from maildir tmp/ folders", removed)
    return removed


def _tmp_dirs(mail_dir: Path) -> Iterator[Path]:
    """``<user>/tmp`` and ``<user>/.<folder>/tmp`` (Maildir++) for every user."""
    try:
        users = list(os.scandir(mail_dir))
    except OSError:
        return
    for user in users:
        if not user.is_dir(follow_symlinks=False):
            continue
        yield Path(user.path) / "tmp"
        with contextlib.suppress(OSError):
            for sub in os.scandir(user.path):
                if sub.name.startswith(".") and sub.is_dir(follow_symlinks=False):
                    yield Path(sub.path) / "tmp"


def _abandoned(entry: os.DirEntry[str], now: float) -> bool:
    if entry.stat(follow_symlinks=False).st_mtime < now - STALE_AFTER:
        return True
    match = _OURS.match(entry.name)
    if match is None or match.group(2) != io.HOST:
        return False
    return not writer_alive(int(match.group(1)))
