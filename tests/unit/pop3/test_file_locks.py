"""The POP3 maildrop lock is a file lock: it holds against other processes too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mailserver.pop3.locks import MaildropLocks

HOLD = """
import sys, time
from pathlib import Path
from mailserver.pop3.locks import MaildropLocks
locks = MaildropLocks(Path(sys.argv[1]))
print("held" if locks.try_acquire("group1_1") else "refused", flush=True)
sys.stdin.readline()
"""


def test_a_lock_held_by_another_process_refuses_until_it_exits(tmp_path: Path) -> None:
    other = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "held"
        locks = MaildropLocks(tmp_path)
        assert not locks.try_acquire("group1_1")
        assert not locks.try_acquire("GROUP1_1")  # one account, one lock
        assert locks.try_acquire("group1_2")
    finally:
        assert other.stdin is not None
        other.stdin.close()
        other.wait(30)
    # The holder is gone (as a killed worker would be): the kernel released it.
    assert locks.try_acquire("group1_1")


def test_release_lets_the_next_session_in(tmp_path: Path) -> None:
    one, two = MaildropLocks(tmp_path), MaildropLocks(tmp_path)
    assert one.try_acquire("group1_1")
    assert not one.try_acquire("group1_1")
    assert not two.try_acquire("group1_1")
    one.release("group1_1")
    one.release("group1_1")
    assert two.try_acquire("group1_1")
    assert two.is_locked("group1_1") and not one.is_locked("group1_1")
