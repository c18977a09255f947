"""UTF8=ACCEPT (RFC 6855) transcripts: mailbox names as UTF-8 once enabled, APPEND UTF8."""

from __future__ import annotations

from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_condstore import command
from tests.dialogue.test_imap_rfc3501 import ImapLab

imap_lab_factory = harness.imap_lab_factory
imap_lab = harness.imap_lab


async def test_names_are_utf8_only_after_enable(imap_lab: ImapLab) -> None:
    legacy = await imap_lab.login()
    modern = await imap_lab.login()
    caps = (await command(modern, "c CAPABILITY"))[0].split()
    assert "UTF8=ACCEPT" in caps and "ENABLE" in caps
    assert (await command(modern, "e enable utf8=accept")) == [
        "* ENABLED UTF8=ACCEPT",
        "e OK Enable completed",
    ]
    await modern.send('a CREATE "Entwürfe"')
    assert (await modern.line()).endswith("] Create completed")  # [MAILBOXID (...)]
    assert (await command(modern, 'b CREATE "R&D"'))[-1].endswith("] Create completed")
    lines = await command(modern, 'l LIST "" *')
    assert '* LIST (\\HasNoChildren) "/" "Entwürfe"' in lines
    assert '* LIST (\\HasNoChildren) "/" R&D' in lines
    lines = await command(legacy, 'l LIST "" *')
    assert '* LIST (\\HasNoChildren) "/" Entw&APw-rfe' in lines
    assert '* LIST (\\HasNoChildren) "/" R&-D' in lines
    # The same folder by either spelling, each in its session's form.
    assert (await command(modern, 'p LIST "" "Entw*"'))[0].endswith('"Entwürfe"')
    assert (await command(legacy, 'p LIST "" Entw&APw-*'))[0].endswith("Entw&APw-rfe")
    status = await command(modern, 's STATUS "Entwürfe" (MESSAGES)')
    assert status[0] == '* STATUS "Entwürfe" (MESSAGES 0)'
    root = await command(modern, 'q GETQUOTAROOT "Entwürfe"')
    assert root[0] == '* QUOTAROOT "Entwürfe"'
    # Without UTF8=ACCEPT "R&D" is no valid modified UTF-7: no such mailbox, so NO (issue 14).
    assert (await command(legacy, 'x SELECT "R&D"'))[-1].startswith("x NO")
    assert (await command(modern, 'x SELECT "R&D"'))[-1] == "x OK [READ-WRITE] Select completed"


async def test_append_utf8_literal_and_8bit_headers(imap_lab: ImapLab) -> None:
    client = await imap_lab.login()
    await command(client, "e ENABLE UTF8=ACCEPT")
    message = "From: Jürgen <j@JServer.NetLab>\r\nSubject: Grüße\r\n\r\nHallo\r\n".encode()
    await client.send(b"a APPEND INBOX UTF8 (~{%d+}" % len(message))
    await client.send(message + b")")
    assert (await client.line()).startswith("a OK")
    snap = await imap_lab.snapshot()
    assert len(snap.messages) == 1
    inbox = await (await imap_lab.store.mailbox("group1_1")).folder("INBOX")
    assert await inbox.read(snap.messages[0].uid) == message
    # A plain literal with 8-bit headers works too.
    await client.send(b"b APPEND INBOX {%d+}" % len(message))
    await client.send(message)
    assert (await client.line()).startswith("b OK")
