"""A folder deleted and re-created by two different processes within one second
still gets a new UIDVALIDITY (RFC 3501 2.3.1.1: a client's cached UIDs must
never be trusted for other messages)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

from mailserver.storage.maildir import io
from mailserver.storage.maildir.mailbox import make_maildir
from mailserver.storage.maildir.state import LOCK_FILE
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


def test_the_first_uid_list_is_written_under_the_folder_lock(tmp_path: Path) -> None:
    """Another process holds the folder's lock while it numbers a copied-in maildir
    (it wrote the first uid list a moment ago): opening the maildir here must wait
    for it and then keep its list, not write an empty one over it."""
    folder = tmp_path / "alice"
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True)
    numbered = UidList(1700000000)
    numbered.next_uid = 31  # 30 messages numbered by the other process
    with io.flocked(folder / LOCK_FILE):
        opener = threading.Thread(target=make_maildir, args=(folder, False))
        opener.start()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and not (folder / FILE_NAME).exists():
            time.sleep(0.01)
        assert not (folder / FILE_NAME).exists(), "wrote the uid list without the lock"
        io.atomic_replace(folder / FILE_NAME, numbered.serialize().encode())
    opener.join(30)
    assert not opener.is_alive()
    assert UidList.parse((folder / FILE_NAME).read_text()).next_uid == 31
