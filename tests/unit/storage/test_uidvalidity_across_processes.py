"""A folder deleted and re-created by two different processes within one second
still gets a new UIDVALIDITY (RFC 3501 2.3.1.1: a client's cached UIDs must
never be trusted for other messages)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mailserver.storage.maildir.uidlist import FILE_NAME, UidList

# Every process lives in the same second: the clock is pinned.
ACT = """
import sys, time
time.time = lambda: 1_800_000_000.0
from pathlib import Path
from mailserver.storage.maildir.mailbox import open_mailbox_blocking
mailbox = open_mailbox_blocking("group1_1", Path(sys.argv[1]) / "group1_1")
if sys.argv[2] == "create":
    mailbox._create_blocking("Lab")
else:
    mailbox._delete_blocking("Lab")
"""


def act(root: Path, action: str) -> None:
    subprocess.run([sys.executable, "-c", ACT, str(root), action], check=True, timeout=60)


def uidvalidity(root: Path) -> int:
    return UidList.parse((root / "group1_1" / ".Lab" / FILE_NAME).read_text()).uidvalidity


def test_recreated_in_another_process_within_the_second_gets_a_new_uidvalidity(
    tmp_path: Path,
) -> None:
    act(tmp_path, "create")
    first = uidvalidity(tmp_path)
    act(tmp_path, "delete")
    act(tmp_path, "create")
    assert uidvalidity(tmp_path) > first
