"""What the SMTP server stored opens cleanly in mutt, a real mail reader.

mutt is a full-screen program, so it runs under ``script`` (which gives it
a pseudo-terminal) with a muttrc that pipes the first message, decoded, to
a file and quits. The index line mutt draws and the decoded copy both show
it parsed what we stored.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.smtp.helpers import connect, converse
from tests.support.server import ServerProcess

pytestmark = pytest.mark.external


def mutt_decoded(maildir: Path, work: Path) -> tuple[str, str]:
    """(decoded first message, what mutt drew on the terminal)."""
    if shutil.which("mutt") is None or shutil.which("script") is None:
        pytest.skip("mutt (Debian package mutt) or script (bsdutils) is not installed")
    out = work / "decoded.txt"
    muttrc = work / "muttrc"
    muttrc.write_text(
        "set pipe_decode=yes\n"
        "set wait_key=no\n"
        "set quit=yes\n"
        "set charset=utf-8\n"
        # An existing folder, so mutt never asks whether to create ~/Mail.
        f"set folder={work}\n"
        f'push "<pipe-message>cat > {out}<enter><quit>"\n'
    )
    command = f"mutt -n -R -F {shlex.quote(str(muttrc))} -f {shlex.quote(str(maildir))}"
    env = {**os.environ, "TERM": "vt100", "HOME": str(work), "LANG": "C.UTF-8"}
    screen = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        timeout=30,
        check=True,
    ).stdout.decode("utf-8", "replace")
    assert out.exists(), f"mutt did not pipe the message; screen was:\n{screen}"
    return out.read_text("utf-8"), screen


def send(server: ServerProcess, recipient: str, lines: list[str]) -> None:
    client = connect(server)
    converse(
        client,
        f"""
        C: HELO pc
        S: 250
        C: MAIL FROM:<group1_1@JServer.NetLab>
        S: 250
        C: RCPT TO:<{recipient}>
        S: 250
        C: DATA
        S: 354
        """,
    )
    for line in lines:
        client.send(line)
    client.send(".")
    client.expect("250 2.0.0 Ok: queued as")
    client.close()


def test_mutt_reads_a_bare_body(mail_server: ServerProcess, tmp_path: Path) -> None:
    send(mail_server, "group1_2@JServer.NetLab", ["myemail"])
    decoded, screen = mutt_decoded(mail_server.maildir("group1_2"), tmp_path)
    header, _, body = decoded.partition("\n\n")
    assert "From: group1_1@JServer.NetLab" in header.splitlines()
    assert body.strip() == "myemail"
    assert "Msgs:1" in screen


def test_mutt_reads_a_mime_message(mail_server: ServerProcess, tmp_path: Path) -> None:
    send(
        mail_server,
        "group1_3@JServer.NetLab",
        [
            "From: nick <group1_1@JServer.NetLab>",
            "To: group1_3@JServer.NetLab",
            "Subject: =?utf-8?B?5rWL6K+V6YKu5Lu2?=",
            "MIME-Version: 1.0",
            'Content-Type: multipart/alternative; boundary="b1"',
            "",
            "--b1",
            'Content-Type: text/plain; charset="gbk"',
            "Content-Transfer-Encoding: base64",
            "",
            "xOO6ww==",
            "--b1",
            'Content-Type: text/html; charset="gbk"',
            "",
            "<p>hi</p>",
            "--b1--",
        ],
    )
    decoded, _ = mutt_decoded(mail_server.maildir("group1_3"), tmp_path)
    assert "Subject: 测试邮件" in decoded.splitlines()
    assert "你好" in decoded  # gbk base64 part decoded to UTF-8
