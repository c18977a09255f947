"""kill -9 in the middle of a streamed upload (issue 15): no half message anywhere.

The DATA text goes to a spool file as it arrives. A crash then leaves that
file behind; it must never show up as a message (nothing in ``new/`` or
``cur/``), and the next start removes it.
"""

from __future__ import annotations

import os
import socket
import time

from tests.support.server import ServerProcess


def maildir_files(server: ServerProcess, user: str) -> list[str]:
    root = server.maildir(user)
    return (
        [name for sub in ("new", "cur", "tmp") for name in os.listdir(root / sub)]
        if (root / "new").is_dir()
        else []
    )


def test_kill_9_mid_data_leaves_no_half_message(mail_server: ServerProcess) -> None:
    sock = socket.create_connection((mail_server.host, mail_server.ports["smtp"]), timeout=10)
    reader = sock.makefile("rb")
    assert reader.readline().startswith(b"220")
    sock.sendall(
        b"EHLO pc\r\nMAIL FROM:<group1_1@JServer.NetLab>\r\n"
        b"RCPT TO:<group1_2@JServer.NetLab>\r\nDATA\r\n"
    )
    while not reader.readline().startswith(b"354"):
        pass
    sock.sendall(b"Subject: cut off\r\n\r\n" + b"half a message\r\n" * 200_000)
    spool = mail_server.data_dir / "spool"
    deadline = time.monotonic() + 20
    while not (spool.is_dir() and any(entry.stat().st_size > 0 for entry in os.scandir(spool))):
        assert time.monotonic() < deadline, "the upload never reached the spool"
        time.sleep(0.02)
    mail_server.kill()
    sock.close()
    assert os.listdir(spool), "the crash should have left the spool file"
    assert maildir_files(mail_server, "group1_2") == []
    mail_server.start()
    assert os.listdir(spool) == []  # removed at start-up
    assert maildir_files(mail_server, "group1_2") == []
    assert "removed 1 unfinished upload" in mail_server.log()
