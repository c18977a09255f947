"""Transcripts, log lines, the activity record, lab status and the throttle CLI,
against a real server over real sockets."""

from __future__ import annotations

import base64
import imaplib
import json
import poplib
import smtplib
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.lines import LineClient
from tests.support.server import DOMAIN, ServerProcess

DEADLINE = 20.0


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def wait_for(check: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    """Poll ``check`` until it returns something true; fail naming ``what``."""
    end = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailserver", "-c", str(server.config_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def control(server: ServerProcess, name: str, **args: Any) -> dict[str, Any]:
    from mailserver.config import load_config
    from mailserver.control import call

    return call(load_config(server.config_path), name, **args)


def text_with(read: Callable[[], str], marker: str, what: str, count: int = 1) -> str:
    """Poll until the text ``read`` returns holds ``marker`` ``count`` times; return it."""

    def check() -> str | None:
        text = read()
        return text if text.count(marker) >= count else None

    return str(wait_for(check, what))


def transcript_file(server: ServerProcess, port: int) -> Path | None:
    files = list((server.directory / "transcripts").glob(f"*-127.0.0.1_{port}-*.log"))
    return files[0] if files else None


def test_smtp_session_typed_by_hand_is_transcribed(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory(transcripts={"dir": "./transcripts", "body_lines": 3})
    client = LineClient(server.host, server.ports["smtp"])
    port = client.sock.getsockname()[1]
    client.expect("220")
    client.send("EHLO pc1")
    client.read_until(lambda line: line.startswith("250 "))
    client.send("auth login")
    client.expect("334 VXNlcm5hbWU6")
    client.send(b64("group1_1"))
    client.expect("334 UGFzc3dvcmQ6")
    client.send(b64("group1_1"))
    client.expect("235")
    client.send(f"MAIL FROM:<group1_1@{DOMAIN}>")
    client.expect("250")
    client.send(f"RCPT TO:<group1_2@{DOMAIN}>")
    client.expect("250")
    client.send("DATA")
    client.expect("354")
    client.send_raw(b"Subject: Test mail 3\r\n\r\n" + b"This is a test mail!\r\n" * 20 + b".\r\n")
    client.expect("250")

    # Live, before the session ends: the archive (fed by the events) knows it.
    def live_session() -> dict[str, Any] | None:
        sessions = control(server, "sessions.list")["sessions"]
        return next((s for s in sessions if s["peer"] == f"127.0.0.1:{port}"), None)

    live = wait_for(live_session, "the live session in sessions.list")
    assert live["user"] == "group1_1" and live["protocol"] == "smtp"
    written = wait_for(lambda: transcript_file(server, port), "the transcript file")
    wait_for(lambda: "S: 250 2.0.0" in written.read_text(), "the DATA reply in the file")

    client.send("QUIT")
    client.expect("221")
    text = text_with(written.read_text, "# ended after", "the end of the file")
    assert "C: EHLO pc1" in text
    assert "C: auth login" in text and "S: 334 VXNlcm5hbWU6" in text
    assert b64("group1_1") not in text, "the password must be masked by default"
    assert "C: ********" in text
    assert "C: Subject: Test mail 3" in text
    assert "more lines" in text and text.count("This is a test mail!") == 1
    assert "C: QUIT" in text and "S: 221" in text
    assert "user group1_1" in text and "messages=1" in text

    log = text_with(server.log, "session ended", "the session-end line")
    assert f"[127.0.0.1]:{port} session ended after" in log
    assert "user group1_1, plaintext, commands=" in log

    delivered = next((server.maildir("group1_2") / "new").iterdir()).read_text()
    assert "with ESMTPA id" in delivered
    assert "(Authenticated sender: group1_1)" in delivered


def test_passwords_shown_when_configured(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(transcripts={"dir": "./transcripts", "passwords": "show"})
    client = LineClient(server.host, server.ports["smtp"])
    port = client.sock.getsockname()[1]
    client.expect("220")
    client.send("HELO pc1")
    client.expect("250")
    client.send("AUTH PLAIN " + b64("\0group1_1\0group1_1"))
    client.expect("235")
    client.send("QUIT")
    client.expect("221")
    written = wait_for(lambda: transcript_file(server, port), "the transcript file")
    text = text_with(written.read_text, "# ended", "the end of the file")
    assert "[base64 of: \\0group1_1\\0group1_1]" in text


def test_pop3_and_imap_log_lines_carry_ip_and_port(
    server_factory: Callable[..., ServerProcess],
) -> None:
    mail_server = server_factory(transcripts={"dir": "./transcripts", "body_lines": 2})
    smtp = smtplib.SMTP(mail_server.host, mail_server.ports["smtp"], timeout=DEADLINE)
    smtp.sendmail(f"group1_2@{DOMAIN}", [f"group1_1@{DOMAIN}"], b"Subject: hi\r\n\r\nhello\r\n")
    smtp.quit()

    pop = poplib.POP3(mail_server.host, mail_server.ports["pop3"], timeout=DEADLINE)
    pop_port = pop.sock.getsockname()[1]
    pop.user("group1_1")
    pop.pass_("group1_1")
    pop.retr(1)
    pop.quit()

    imap = imaplib.IMAP4(mail_server.host, mail_server.ports["imap"], timeout=DEADLINE)
    imap_port = imap.sock.getsockname()[1]
    imap.login("group1_1", "group1_1")
    imap.select("INBOX")
    imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
    imap.create("Projects")
    imap.delete("Projects")
    imap.store("1", "+FLAGS", "\\Deleted")
    imap.expunge()
    imap.logout()

    pop_where = f"pop3 [127.0.0.1]:{pop_port}:"
    imap_where = f"imap [127.0.0.1]:{imap_port}:"
    log = text_with(mail_server.log, "session ended", "three session-end lines", count=3)
    lines = log.splitlines()
    pop_lines = [line for line in lines if " mailserver.pop3: " in line]
    assert len(pop_lines) >= 3
    assert all(f"[127.0.0.1]:{pop_port}" in line for line in pop_lines), pop_lines
    assert any(f"{pop_where} group1_1 logged in" in line for line in lines)
    assert any(
        f"{pop_where} session ended after" in line and "retrieved=1" in line and "updated=1" in line
        for line in lines
    )
    imap_lines = [line for line in lines if " mailserver.imap: " in line]
    assert len(imap_lines) >= 6
    assert all(f"[127.0.0.1]:{imap_port}" in line for line in imap_lines), imap_lines
    for event in (
        "group1_1 selected INBOX (1 messages)",
        "group1_1 created folder Projects",
        "group1_1 deleted folder Projects",
        "group1_1 expunged 1 messages from INBOX",
    ):
        assert any(f"INFO mailserver.imap: {imap_where} {event}" in line for line in lines), event
    assert any(f"{imap_where} session ended after" in line for line in lines)

    pop_file = wait_for(lambda: transcript_file(mail_server, pop_port), "the POP3 transcript")
    pop_text = text_with(pop_file.read_text, "# ended", "the end of the POP3 transcript")
    assert "C: PASS ********" in pop_text and "C: PASS group1_1" not in pop_text
    assert "C: RETR 1" in pop_text and "S: Return-Path:" in pop_text
    assert "more lines" in pop_text and "S: hello" not in pop_text
    assert "retrieved=1" in pop_text and "updated=1" in pop_text
    imap_file = wait_for(lambda: transcript_file(mail_server, imap_port), "the IMAP transcript")
    imap_text = text_with(imap_file.read_text, "# ended", "the end of the IMAP transcript")
    assert "LOGIN group1_1 ********" in imap_text and '"group1_1"' not in imap_text
    assert "UID FETCH 1:* (BODY.PEEK[])" in imap_text
    assert "S: Return-Path:" in imap_text and "more lines" in imap_text
    assert "S: hello" not in imap_text


def test_activity_and_lab_status(mail_server: ServerProcess) -> None:
    smtp = smtplib.SMTP(mail_server.host, mail_server.ports["smtp"], timeout=DEADLINE)
    smtp.login("group1_1", "group1_1")
    smtp.sendmail(f"group1_1@{DOMAIN}", [f"group1_2@{DOMAIN}"], b"Subject: a\r\n\r\nhi\r\n")
    smtp.quit()

    imap = imaplib.IMAP4(mail_server.host, mail_server.ports["imap"], timeout=DEADLINE)
    imap.starttls(ssl._create_unverified_context())
    imap.login("group1_2", "group1_2")
    imap.select("INBOX")
    imap.uid("FETCH", "1", "(BODY.PEEK[])")
    imap.logout()

    activity = mail_server.data_dir / "activity.json"

    def recorded() -> dict[str, Any] | None:
        try:
            accounts = json.loads(activity.read_text())["accounts"]
        except (OSError, ValueError):
            return None
        done = accounts.get("group1_2", {}).get("exercises", {})
        return accounts if "imap-uid-fetch" in done and "group1_1" in accounts else None

    accounts = wait_for(recorded, "the activity record")
    assert set(accounts["group1_1"]["exercises"]) == {"smtp-auth-send"}
    assert set(accounts["group1_2"]["exercises"]) == {"imap-uid-fetch", "tls"}
    assert accounts["group1_2"]["protocol"] == "imap"

    result = cli(mail_server, "lab", "status")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line}
    assert "smtp-auth-send" in rows["group1_1"] and "smtp" in rows["group1_1"]
    assert "imap-uid-fetch, tls" in rows["group1_2"]
    assert rows["group1_2"].split()[1] == "1"  # one message
    assert "never" in rows["group1_3"]

    as_json = json.loads(cli(mail_server, "lab", "status", "--json").stdout)
    assert {row["name"] for row in as_json} >= {"group1_1", "group1_2", "group1_3", "bob"}

    # A restart keeps the record.
    mail_server.stop()
    mail_server.start()
    again = cli(mail_server, "lab", "status")
    assert "imap-uid-fetch, tls" in again.stdout


@pytest.mark.parametrize("blocked_after", [3])
def test_throttle_cli_unblocks_an_address(
    server_factory: Callable[..., ServerProcess], blocked_after: int
) -> None:
    server = server_factory(
        auth={"free_failures": 10, "block_after_failures": blocked_after, "failure_delay": 0}
    )
    assert "no address is blocked" in cli(server, "throttle", "list").stdout
    for _ in range(blocked_after):
        pop = poplib.POP3(server.host, server.ports["pop3"], timeout=DEADLINE)
        pop.user("group1_1")
        with pytest.raises(poplib.error_proto):
            pop.pass_("wrong")
        pop.quit()
    listing = cli(server, "throttle", "list")
    assert listing.returncode == 0, listing.stderr
    assert "blocked  127.0.0.1" in listing.stdout

    pop = poplib.POP3(server.host, server.ports["pop3"], timeout=DEADLINE)
    pop.user("group1_1")
    with pytest.raises(poplib.error_proto):
        pop.pass_("group1_1")  # the right password, but the address is blocked
    pop.quit()

    unblock = cli(server, "throttle", "unblock", "127.0.0.1")
    assert unblock.returncode == 0, unblock.stderr
    assert "127.0.0.1 unblocked" in unblock.stdout
    assert "no address is blocked" in cli(server, "throttle", "list").stdout
    pop = poplib.POP3(server.host, server.ports["pop3"], timeout=DEADLINE)
    pop.user("group1_1")
    pop.pass_("group1_1")
    pop.quit()

    bad = cli(server, "throttle", "unblock", "not-an-address")
    assert bad.returncode == 1 and "not an IP address" in bad.stderr


def test_throttle_cli_counts_failures_in_words(
    server_factory: Callable[..., ServerProcess],
) -> None:
    """One failure is "1 recent failure", two are "2 recent failures"."""
    server = server_factory(auth={"free_failures": 10, "failure_delay": 0})
    for expected in ("1 recent failure\n", "2 recent failures\n"):
        pop = poplib.POP3(server.host, server.ports["pop3"], timeout=DEADLINE)
        pop.user("group1_1")
        with pytest.raises(poplib.error_proto):
            pop.pass_("wrong")
        pop.quit()
        listing = cli(server, "throttle", "list").stdout
        failing = [line for line in listing.splitlines(keepends=True) if "127.0.0.1" in line]
        assert failing and all(line.endswith(expected) for line in failing), listing


def test_throttle_cli_says_when_the_server_is_not_running(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory()
    server.stop()
    result = cli(server, "throttle", "list")
    assert result.returncode == 1
    assert "the server is not running" in result.stderr


def test_streamed_bodies_are_transcribed_shortened(
    server_factory: Callable[..., ServerProcess],
) -> None:
    """Uploads and downloads that stream through files (SMTP BDAT, an IMAP APPEND
    literal spooled to disk, POP3 RETR and IMAP FETCH of a large message read in
    chunks) still reach the transcript, shortened like any body."""
    mail_server = server_factory(transcripts={"dir": "./transcripts", "body_lines": 2})
    big = b"Subject: big one\r\n\r\n" + b"a line of the big message\r\n" * 12000  # ~320 KiB

    sock = LineClient(mail_server.host, mail_server.ports["smtp"], timeout=DEADLINE)
    smtp_port = sock.sock.getsockname()[1]
    sock.expect("220 ")
    sock.send("EHLO pc")
    sock.read_until(lambda line: line.startswith("250 "))
    sock.send(f"MAIL FROM:<group1_2@{DOMAIN}>")
    sock.expect("250 ")
    sock.send(f"RCPT TO:<group1_1@{DOMAIN}>")
    sock.expect("250 ")
    sock.send_raw(b"BDAT %d LAST\r\n" % len(big) + big)
    sock.expect("250 2.0.0 Ok: queued as ")
    sock.send("QUIT")
    sock.expect("221 ")
    sock.close()

    imap = imaplib.IMAP4(mail_server.host, mail_server.ports["imap"], timeout=DEADLINE)
    imap_port = imap.sock.getsockname()[1]
    imap.login("group1_1", "group1_1")
    appended = big.replace(b"big one", b"appended one")
    assert imap.append("INBOX", None, None, appended)[0] == "OK"
    imap.select("INBOX")
    typ, data = imap.uid("FETCH", "1", "(BODY.PEEK[])")
    assert typ == "OK" and data[0][1].endswith(big[-100:])  # type: ignore[index]
    imap.logout()

    pop = poplib.POP3(mail_server.host, mail_server.ports["pop3"], timeout=DEADLINE)
    pop_port = pop.sock.getsockname()[1]
    pop.user("group1_1")
    pop.pass_("group1_1")
    assert len(pop.retr(2)[1]) > 12000
    pop.quit()

    def transcript(port: int, what: str) -> str:
        path = wait_for(lambda: transcript_file(mail_server, port), what)
        return text_with(path.read_text, "# ended", f"the end of the {what}")

    smtp_text = transcript(smtp_port, "SMTP transcript")
    assert f"C: BDAT {len(big)} LAST" in smtp_text
    assert "C: Subject: big one" in smtp_text and "more lines" in smtp_text
    assert smtp_text.count("a line of the big message") <= 2
    assert "C: QUIT" in smtp_text
    imap_text = transcript(imap_port, "IMAP transcript")
    assert "C: Subject: appended one" in imap_text
    # The streamed FETCH (a literal from the file): its first lines, then a count.
    assert "S: * 1 FETCH (UID 1 BODY[] {" in imap_text
    assert "S: Return-Path: <group1_2@" in imap_text
    assert imap_text.count("a line of the big message") <= 6
    assert imap_text.count("more lines") >= 2
    pop_text = transcript(pop_port, "POP3 transcript")
    assert "C: RETR 2" in pop_text and "S: Subject: appended one" in pop_text
    assert "more lines" in pop_text and pop_text.count("a line of the big message") <= 2
