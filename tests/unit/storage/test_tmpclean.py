"""What a crash leaves in maildir tmp/ folders is removed at start-up, and nothing else."""

from __future__ import annotations

import os
import time
from pathlib import Path

from mailserver.storage.maildir import io
from mailserver.storage.maildir.tmpclean import STALE_AFTER, clean_tmp


def test_abandoned_tmp_files_go_live_and_foreign_ones_stay(tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    inbox_tmp = mail / "group1_1" / "tmp"
    folder_tmp = mail / "group1_1" / ".Sent" / "tmp"
    for directory in (inbox_tmp, folder_tmp):
        directory.mkdir(parents=True)
    dead = f"1.M1P999999999Q1.{io.HOST},S=5,W=5"  # beyond pid_max: not running
    alive = f"1.M1P{os.getppid()}Q1.{io.HOST},S=5,W=5"
    other_host = "1.M1P999999999Q1.elsewhere,S=5,W=5"
    dovecot_fresh = f"1.M1P999999999.{io.HOST}"
    old = "1.M1P1.elsewhere"
    for name in (dead, alive, other_host, dovecot_fresh):
        (inbox_tmp / name).write_bytes(b"half")
    (folder_tmp / dead).write_bytes(b"half")
    (folder_tmp / old).write_bytes(b"old")
    long_ago = time.time() - STALE_AFTER - 60
    os.utime(folder_tmp / old, (long_ago, long_ago))
    assert clean_tmp(mail) == 3
    assert sorted(os.listdir(inbox_tmp)) == sorted([alive, other_host, dovecot_fresh])
    assert os.listdir(folder_tmp) == []
    assert clean_tmp(tmp_path / "missing") == 0
