"""Processes seen from outside, through /proc (no test hook in the server)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path


def _stat_fields(pid: int | str) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name; None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def running(pid: int) -> bool:
    """The process exists and has not ended (a zombie has ended)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def children(pid: int) -> set[int]:
    """The pids whose parent is ``pid``."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(entry)
            if fields is not None and int(fields[1]) == pid:
                found.add(int(entry))
    return found


async def acknowledged_then_killed(script: str, *args: str, count: int = 60) -> list[str]:
    """Run ``script`` (``python -c``) until it has printed ``count`` lines, each an
    acknowledgement it gave, then SIGKILL it wherever it is; the lines.

    The crash tests' one shape: what was acknowledged before a ``kill -9``
    must be found afterwards.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acked: list[str] = []
    try:
        while len(acked) < count:
            line = await asyncio.to_thread(proc.stdout.readline)
            assert line, "the process died before the kill"
            acked.append(line)
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    return acked
