"""IMAP transcripts beyond the RFC examples: SASL, literals, flags, search, concurrency.

Every test runs the real listener in-process over a real maildir store (see
``test_imap_rfc3501.py`` for the harness).
"""

from __future__ import annotations

import base64
import contextlib

from mailserver.config import AuthSettings, Limits
from mailserver.storage import FlagMode
from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_condstore import command
from tests.dialogue.test_imap_rfc3501 import ImapLab, LabFactory

imap_lab_factory = harness.imap_lab_factory
imap_lab = harness.imap_lab


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def message(number: int, subject: str | None = None) -> bytes:
    return (
        f"From: group1_2@JServer.NetLab\r\nSubject: {subject or f'mail {number}'}\r\n\r\n"
        f"body of mail {number}\r\n"
    ).encode()


async def test_authenticate_plain_login_and_sasl_ir(imap_lab: ImapLab) -> None:
    wrong = b64(b"\0group1_1\0wrong")
    user = b64(b"group1_1")
    initial = b64(b"group1_1\0group1_1\0group1_1")
    client = await imap_lab.connect()
    await client.play(
        f"""
        C: a1 AUTHENTICATE PLAIN
        S: + *
        C: {wrong}
        S: a1 NO [AUTHENTICATIONFAILED] Authentication failed
        C: a2 authenticate login
        S: + VXNlcm5hbWU6
        C: {user}
        S: + UGFzc3dvcmQ6
        C: *
        S: a2 BAD Authentication cancelled
        C: a3 AUTHENTICATE CRAM-MD5
        S: a3 NO [CANNOT] Unsupported authentication mechanism
        C: a4 AUTHENTICATE PLAIN {initial}
        S: a4 OK [CAPABILITY IMAP4rev1 *] Logged in
        C: a5 AUTHENTICATE PLAIN
        S: a5 BAD Already logged in
        """
    )


async def test_authorization_identity_must_be_the_user(imap_lab: ImapLab) -> None:
    other = b64(b"group1_2\0group1_1\0group1_1")
    user = b64(b"group1_1")
    client = await imap_lab.connect()
    await client.play(
        f"""
        C: a1 AUTHENTICATE PLAIN {other}
        S: a1 NO [AUTHORIZATIONFAILED] Authorization identity not allowed
        C: a2 AUTHENTICATE LOGIN {user}
        S: + UGFzc3dvcmQ6
        C: {user}
        S: a2 OK [CAPABILITY *] Logged in
        """
    )


async def test_logindisabled_without_tls(imap_lab_factory: LabFactory) -> None:
    lab = await imap_lab_factory(auth=AuthSettings(allow_plaintext_without_tls=False))
    client = await lab.connect()
    await client.play(
        """
        C: a1 CAPABILITY
        S: * CAPABILITY IMAP4rev1 LITERAL- * LOGINDISABLED
        S: a1 OK Capability completed
        C: a2 LOGIN group1_1 group1_1
        S: a2 NO [PRIVACYREQUIRED] Plaintext authentication disallowed without TLS
        C: a3 AUTHENTICATE PLAIN
        S: a3 NO [PRIVACYREQUIRED] Plaintext authentication disallowed without TLS
        """
    )


async def test_store_search_expunge_transcript(imap_lab: ImapLab) -> None:
    for n in range(1, 6):
        await imap_lab.deliver(message(n))
    client = await imap_lab.login()
    await client.play(
        """
        C: s SELECT INBOX
        S: * FLAGS *
        S: * OK [PERMANENTFLAGS *
        S: * 5 EXISTS
        S: * 5 RECENT
        S: * OK [UNSEEN 1] First unseen
        S: * OK [UIDVALIDITY *
        S: * OK [UIDNEXT 6] *
        S: * OK [HIGHESTMODSEQ *] Highest
        S: * OK [MAILBOXID (*)] Ok
        S: s OK [READ-WRITE] Select completed
        C: a STORE 2:3 +FLAGS (\\Deleted $Done)
        S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Done)
        S: * OK [PERMANENTFLAGS (*\\Draft $Done \\*)] Flags permitted
        S: * 2 FETCH (FLAGS ($Done \\Deleted \\Recent))
        S: * 3 FETCH (FLAGS ($Done \\Deleted \\Recent))
        S: a OK STORE completed
        C: b SEARCH DELETED
        S: * SEARCH 2 3
        S: b OK SEARCH completed
        C: c SEARCH KEYWORD $Done NOT 2
        S: * SEARCH 3
        S: c OK SEARCH completed
        C: d UID SEARCH UNDELETED
        S: * SEARCH 1 4 5
        S: d OK UID SEARCH completed
        C: e UID STORE 4 FLAGS.SILENT (\\Seen)
        S: e OK UID STORE completed
        C: f EXPUNGE
        S: * 2 EXPUNGE
        S: * 2 EXPUNGE
        S: f OK Expunge completed
        C: g FETCH 1:* (UID FLAGS)
        S: * 1 FETCH (UID 1 FLAGS (\\Recent))
        S: * 2 FETCH (UID 4 FLAGS (\\Seen \\Recent))
        S: * 3 FETCH (UID 5 FLAGS (\\Recent))
        S: g OK FETCH completed
        C: h SEARCH SUBJECT "mail 5"
        S: * SEARCH 3
        S: h OK SEARCH completed
        C: i STORE 9 +FLAGS (\\Seen)
        S: i BAD Invalid message sequence number
        C: j UID STORE 9 +FLAGS (\\Seen)
        S: j OK UID STORE completed
        """
    )
    assert [m.uid for m in (await imap_lab.snapshot()).messages] == [1, 4, 5]


async def test_two_sessions_flags_and_expunge(imap_lab: ImapLab) -> None:
    for n in range(1, 4):
        await imap_lab.deliver(message(n))
    first = await imap_lab.login()
    second = await imap_lab.login()
    await first.send("s SELECT INBOX")
    await first.expect("* FLAGS *")
    while not (await first.line()).startswith("s OK"):
        pass
    await second.send("s EXAMINE INBOX")
    while not (await second.line()).startswith("s OK [READ-ONLY]"):
        pass
    await first.play(
        """
        C: a STORE 1 +FLAGS.SILENT (\\Seen)
        S: a OK STORE completed
        C: b STORE 2 +FLAGS.SILENT (\\Deleted)
        S: b OK STORE completed
        C: c EXPUNGE
        S: * 2 EXPUNGE
        S: c OK Expunge completed
        """
    )
    await second.play(
        """
        C: a FETCH 1 (FLAGS)
        S: * 1 FETCH (FLAGS (\\Seen))
        S: a OK FETCH completed
        C: b NOOP
        S: * 2 EXPUNGE
        S: b OK Noop completed
        C: c FETCH 2 (UID)
        S: * 2 FETCH (UID 3)
        S: c OK FETCH completed
        C: d STORE 1 +FLAGS (\\Flagged)
        S: d NO [READ-ONLY] Mailbox is read-only (EXAMINE)
        """
    )
    await imap_lab.deliver(message(4))
    await first.play(
        """
        C: n NOOP
        S: * 3 EXISTS
        S: * 3 RECENT
        S: n OK Noop completed
        """
    )
    await second.play(
        """
        C: n CHECK
        S: * 3 EXISTS
        S: * 0 RECENT
        S: n OK Check completed
        """
    )


async def test_literal_limits_in_process(imap_lab_factory: LabFactory) -> None:
    lab = await imap_lab_factory(
        limits=Limits(
            max_line_length=100,
            imap_max_line_length=100,
            max_literal_size=20,
            max_message_size=200,
        )
    )
    client = await lab.login()
    await client.play(
        """
        C: a1 LOGIN {30}
        S: a1 BAD [TOOBIG] Literal too large
        C: a2 SELECT {5}
        S: + Ready for literal data
        C: INBOX
        S: * FLAGS *
        """
    )
    await client.send("x" * 150)
    line = await client.line()
    while not line.startswith("* BAD"):
        line = await client.line()
    assert line == "* BAD [TOOBIG] Command line too long"
    await client.play("C: a3 NOOP\nS: a3 OK Noop completed")


async def test_literals_before_login_are_small(imap_lab: ImapLab) -> None:
    """Before login nothing needs more than a line's worth of literal (a user name,
    a password); a stranger must not make the server buffer max_literal_size
    (70 MiB by default) per connection."""
    client = await imap_lab.connect()
    await client.play(
        """
        C: a1 LOGIN {9000}
        S: a1 BAD [TOOBIG] Literal too large
        """
    )
    await client.send(b"a2 LOGIN {9000+}\r\n" + b"x" * 9000 + b" y")
    await client.play(
        """
        S: a2 BAD [TOOBIG] Literal too large
        C: a3 LOGIN {8}
        S: + Ready for literal data
        C: group1_1 group1_1
        S: a3 OK [CAPABILITY *] Logged in
        C: a4 SELECT {9000}
        S: + Ready for literal data
        """
    )


async def test_a_literal_too_long_to_skip_ends_the_session(imap_lab: ImapLab) -> None:
    """A LITERAL+ longer than any IMAP number cannot be skipped in step; answering BAD
    and reading on would run its bytes as commands (a command-injection route)."""
    client = await imap_lab.login()
    await client.send(b"a1 APPEND INBOX {" + b"9" * 25 + b"+}\r\nb1 CREATE Injected")
    await client.play(
        """
        S: a1 BAD [TOOBIG] Literal too large
        S: * BYE Literal too large to skip, closing
        """
    )
    assert await client.closed()
    mailbox = await imap_lab.store.mailbox("group1_1")
    assert "Injected" not in await mailbox.list_folders()


async def test_bad_commands_in_a_row_end_the_session(imap_lab_factory: LabFactory) -> None:
    lab = await imap_lab_factory(limits=Limits(max_bad_commands=2))
    client = await lab.connect()
    await client.play(
        """
        C: a1 FETCH
        S: a1 BAD Log in first
        C: a2 BLAH
        S: a2 BAD Unknown command
        S: * BYE Too many invalid commands
        """
    )
    assert await client.closed()


async def test_shutdown_sends_bye(imap_lab: ImapLab) -> None:
    client = await imap_lab.login()
    assert imap_lab.server is not None
    await imap_lab.sessions.shutdown(1.0)
    await client.expect("* BYE Server shutting down")
    assert await client.closed()


async def test_shutdown_cuts_off_a_client_stalled_mid_literal(imap_lab: ImapLab) -> None:
    client = await imap_lab.login()
    await client.send("a APPEND INBOX {100}")
    await client.expect("+ *")
    client.writer.write(b"only ten b")
    await client.writer.drain()
    await imap_lab.sessions.shutdown(0.1)
    assert len(imap_lab.sessions) == 0
    with contextlib.suppress(ConnectionResetError):  # dropped without a goodbye: the point
        assert await client.closed()


async def test_keyword_set_elsewhere_is_announced_in_flags(imap_lab: ImapLab) -> None:
    await imap_lab.deliver(message(1))
    watcher = await imap_lab.login()
    await watcher.send("s SELECT INBOX")
    while not (await watcher.line()).startswith("s OK"):
        pass
    folder = await (await imap_lab.store.mailbox("group1_1")).folder("INBOX")
    await folder.store_flags([1], ["$Label1"], FlagMode.ADD)
    await watcher.play(
        """
        C: n NOOP
        S: * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1)
        S: * OK [PERMANENTFLAGS (*$Label1 \\*)] Flags permitted
        S: * 1 FETCH (FLAGS ($Label1 \\Recent))
        S: n OK Noop completed
        """
    )


async def test_examine_shows_recent_mail_without_claiming_it(imap_lab: ImapLab) -> None:
    """RFC 3501 2.3.2: a read-only session sees \\Recent, and so do later sessions."""
    await imap_lab.deliver(message(1))
    reader = await imap_lab.login()
    examine = await command(reader, "e EXAMINE INBOX")
    assert "* 1 RECENT" in examine and examine[-1].startswith("e OK [READ-ONLY]")
    await imap_lab.deliver(message(2))
    await reader.play(
        """
        C: n NOOP
        S: * 2 EXISTS
        S: * 2 RECENT
        S: n OK Noop completed
        C: f FETCH 1:2 (FLAGS)
        S: * 1 FETCH (FLAGS (\\Recent))
        S: * 2 FETCH (FLAGS (\\Recent))
        S: f OK FETCH completed
        """
    )
    writer = await imap_lab.login()
    assert "* 2 RECENT" in await command(writer, "s SELECT INBOX")


async def test_append_by_one_session_numbers_nothing_in_another_before_its_exists(
    imap_lab: ImapLab,
) -> None:
    """Sessions on one folder share the store's message list (no copy per idle
    session); a message APPENDed through one still gets a sequence number in the
    other only after that session was sent ``* n EXISTS`` (RFC 3501 7.3.1, 5.2)."""
    for n in range(1, 4):
        await imap_lab.deliver(message(n))
    first = await imap_lab.login()
    second = await imap_lab.login()
    for client in (first, second):
        await client.send("s SELECT INBOX")
        while not (await client.line()).startswith("s OK"):
            pass
    data = message(9)
    await first.send(f"a APPEND INBOX {{{len(data)}}}")
    await first.expect("+ *")
    await first.send(data)
    appended = []
    while not (line := await first.line()).startswith("a "):
        appended.append(line)
    assert line.startswith("a OK")
    assert "* 4 EXISTS" in appended
    known = 3  # the second session was told of 3 messages at SELECT
    for text in (
        "b FETCH 1:* (UID)",
        "c SEARCH ALL",
        "d FETCH 4 (UID)",
        "e NOOP",
        "f FETCH 4 (UID)",
    ):
        await second.send(text)
        tag = text.split()[0]
        while not (line := await second.line()).startswith(f"{tag} "):
            words = line.split()
            if words[2:3] == ["EXISTS"]:
                known = int(words[1])
            elif words[2:3] == ["FETCH"]:
                assert int(words[1]) <= known, f"{line!r} before its EXISTS ({known} known)"
            elif words[1:2] == ["SEARCH"]:
                assert all(int(n) <= known for n in words[2:]), line
        if tag == "d" and known == 3:
            assert line.startswith("d BAD") or line.startswith("d NO"), line
        else:
            assert line.startswith(f"{tag} OK"), line
    assert known == 4  # NOOP at the latest announced it
