"""CONDSTORE/QRESYNC resync and QUOTA with Python's imaplib against the real server.

The changes a returning client must learn about come from every path a
real lab produces them: SMTP delivery, a POP3 client deleting, another IMAP
client flagging. The server process must notice all of them, persist the
mod-sequences, and report exactly those changes.
"""

from __future__ import annotations

import imaplib
import poplib
import re
import smtplib
import time
from collections.abc import Callable

import pytest

from tests.integration.imap.conftest import login, make_message
from tests.support.server import ServerProcess

ADDRESS = "group1_1@JServer.NetLab"


def send(server: ServerProcess, number: int) -> None:
    with smtplib.SMTP(server.host, server.ports["smtp"], timeout=20) as client:
        client.sendmail("group1_2@JServer.NetLab", [ADDRESS], make_message(number))


def pop3_delete_first(server: ServerProcess) -> None:
    client = poplib.POP3(server.host, server.ports["pop3"], timeout=20)
    client.user("group1_1")
    client.pass_("group1_1")
    client.dele(1)
    client.quit()


def code_value(client: imaplib.IMAP4, name: str) -> int:
    values = client.untagged_responses.get(name)
    assert values, client.untagged_responses
    return int(values[-1])


def uid_modseq(data: list[bytes | tuple[bytes, bytes] | None]) -> dict[int, tuple[int, bytes]]:
    """UID -> (MODSEQ, FLAGS) from FETCH responses."""
    out = {}
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        if not isinstance(line, bytes):
            continue
        uid = re.search(rb"UID (\d+)", line)
        modseq = re.search(rb"MODSEQ \((\d+)\)", line)
        flags = re.search(rb"FLAGS \(([^)]*)\)", line)
        if uid and modseq and flags:
            out[int(uid.group(1))] = (int(modseq.group(1)), flags.group(1))
    return out


def test_condstore_and_qresync_resync_after_smtp_pop3_and_imap_changes(
    mail_server: ServerProcess,
) -> None:
    for n in range(1, 6):
        send(mail_server, n)
    client = login(mail_server)
    assert "QRESYNC" in client.capabilities and "CONDSTORE" in client.capabilities
    typ, _ = client.enable("QRESYNC")
    assert typ == "OK" and b"QRESYNC" in client.untagged_responses["ENABLED"][0]
    client.select("INBOX")
    validity = code_value(client, "UIDVALIDITY")
    remembered = code_value(client, "HIGHESTMODSEQ")
    client.logout()

    # Days later, from other machines: POP3 deletes UID 1, another IMAP client
    # flags UID 3, and mail 6 arrives over SMTP.
    pop3_delete_first(mail_server)
    other = login(mail_server)
    other.select("INBOX")
    other.uid("STORE", "3", "+FLAGS", "(\\Flagged)")
    other.logout()
    send(mail_server, 6)

    # CONDSTORE alone: one FETCH names exactly what changed.
    plain = login(mail_server)
    plain.select("INBOX")
    typ, data = plain.uid("FETCH", "1:*", f"(FLAGS) (CHANGEDSINCE {remembered})")
    assert typ == "OK"
    changed = uid_modseq(data)
    assert sorted(changed) == [3, 6]
    assert changed[3][1] == b"\\Flagged"
    assert all(modseq > remembered for modseq, _ in changed.values())
    plain.logout()

    # QRESYNC: the SELECT itself reports the removal and the changes.
    back = login(mail_server)
    back.enable("QRESYNC")
    typ, _ = back._simple_command("SELECT", "INBOX", f"(QRESYNC ({validity} {remembered} 1:5))")
    assert typ == "OK"
    assert back.untagged_responses.get("VANISHED") == [b"(EARLIER) 1"]
    fetched = uid_modseq(back.untagged_responses.get("FETCH", []))
    assert sorted(fetched) == [3, 6]
    assert code_value(back, "HIGHESTMODSEQ") == max(m for m, _ in fetched.values())
    assert code_value(back, "EXISTS") == 5
    back.logout()


def test_modseq_survives_a_restart(mail_server: ServerProcess) -> None:
    for n in range(1, 3):
        send(mail_server, n)
    client = login(mail_server)
    client.select("INBOX")
    client.uid("STORE", "2", "+FLAGS", "(\\Seen)")
    typ, data = client.uid("FETCH", "1:*", "(MODSEQ)")
    assert typ == "OK"
    before = {
        int(m.group(1)): int(m.group(2))
        for line in data
        if isinstance(line, bytes) and (m := re.search(rb"UID (\d+) MODSEQ \((\d+)\)", line))
    }
    highest = code_value(client, "HIGHESTMODSEQ")
    client.logout()
    mail_server.stop()
    mail_server.start()
    client = login(mail_server)
    client.select("INBOX")
    assert code_value(client, "HIGHESTMODSEQ") >= highest
    typ, data = client.uid("FETCH", "1:*", "(MODSEQ)")
    assert typ == "OK"
    after = {
        int(m.group(1)): int(m.group(2))
        for line in data
        if isinstance(line, bytes) and (m := re.search(rb"UID (\d+) MODSEQ \((\d+)\)", line))
    }
    assert after == before and len(after) == 2
    client.logout()


@pytest.fixture
def quota_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    # 1/64 MiB = 16 KiB for everyone.
    return server_factory(quota={"default_mb": 1 / 64})


def test_quota_with_imaplib(quota_server: ServerProcess) -> None:
    client = login(quota_server)
    typ, data = client.getquotaroot("INBOX")
    assert typ == "OK"
    assert data == [[b'INBOX ""'], [b'"" (STORAGE 0 16)']]
    small = make_message(1, body=b"x" * 70 + b"\r\n")
    assert client.append("INBOX", "", imaplib.Time2Internaldate(time.time()), small)[0] == "OK"
    huge = make_message(2, body=(b"y" * 70 + b"\r\n") * 300)  # ~21 KiB
    typ, data = client.append("Drafts", "(\\Draft)", imaplib.Time2Internaldate(time.time()), huge)
    assert typ == "NO" and data[0].startswith(b"[OVERQUOTA]")
    typ, data = client.getquota('""')
    assert typ == "OK" and data == [b'"" (STORAGE 1 16)']
    typ, data = client.setquota('""', "(STORAGE 99999)")
    assert typ == "NO"
    # SMTP to the same account now refuses what does not fit, accepts what does.
    with smtplib.SMTP(quota_server.host, quota_server.ports["smtp"], timeout=20) as smtp:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.sendmail("group1_2@JServer.NetLab", [ADDRESS], huge)
        assert refused.value.smtp_code == 552
        smtp.sendmail("group1_2@JServer.NetLab", [ADDRESS], make_message(3))
    client.select("INBOX")
    assert int(client.untagged_responses["EXISTS"][-1]) == 2
    client.logout()


def test_utf8_accept_with_imaplib(mail_server: ServerProcess) -> None:
    client = login(mail_server)
    assert client.enable("UTF8=ACCEPT")[0] == "OK"
    assert client.create('"Entwürfe/Grüße"')[0] == "OK"
    typ, data = client.list('""', '"Entw*"')
    assert typ == "OK"
    assert '"Entwürfe/Grüße"'.encode() in b"".join(d for d in data if isinstance(d, bytes))
    client.logout()
    # A client without UTF8=ACCEPT sees the same folder in modified UTF-7.
    legacy = login(mail_server)
    typ, data = legacy.list('""', "Entw*")
    assert b"Entw&APw-rfe/Gr&APwA3w-e" in b"".join(d for d in data if isinstance(d, bytes))
    assert legacy.select("Entw&APw-rfe/Gr&APwA3w-e")[0] == "OK"
    legacy.logout()
