"""Transcripts for the APPEND and FETCH extensions, after their RFCs' examples:
LITERAL- (RFC 7888), MULTIAPPEND (RFC 3502), BINARY (RFC 3516) and CATENATE
(RFC 4469). What the server says is checked on the wire; what it stored is
checked through the store.

The listener runs in this process (harness in ``test_imap_rfc3501.py``).
"""

from __future__ import annotations

import base64
import re

from mailserver.imap.session import BASE_CAPABILITIES, LITERAL_MINUS_MAX
from tests.dialogue import test_imap_rfc3501 as harness
from tests.dialogue.test_imap_rfc3501 import Dialogue, ImapLab

imap_lab_factory = harness.imap_lab_factory
imap_lab = harness.imap_lab

# RFC 3502 6's two messages (shortened).
FRED = (
    b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
    b"From: Fred Foobar <foobar@Blurdybloop.example.COM>\r\n"
    b"Subject: afternoon meeting\r\n"
    b"To: mooch@owatagu.example.net\r\n"
    b"\r\n"
    b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
)
JOE = (
    b"Date: Mon, 7 Feb 1994 22:43:04 -0800 (PST)\r\n"
    b"From: Joe Mooch <mooch@OWaTaGu.example.net>\r\n"
    b"Subject: Re: afternoon meeting\r\n"
    b"To: foobar@blurdybloop.example.com\r\n"
    b"\r\n"
    b"3:30 is fine with me.\r\n"
)
ATTACHMENT = bytes(range(256)) * 4  # every octet, NUL included
#: The decoded text part: the CRLF before a boundary belongs to the boundary (RFC 2046 5.1.1).
QP_TEXT = "Grüße, café = 100%"
BINARY_MESSAGE = (
    b"From: group1_2@JServer.NetLab\r\n"
    b"Subject: binary\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n'
    b"\r\n"
    b"--b\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Gr=C3=BC=C3=9Fe, caf=C3=A9 =3D 100%\r\n"
    b"--b\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + base64.encodebytes(ATTACHMENT).replace(b"\n", b"\r\n") + b"--b\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: x-uuencode\r\n"
    b"\r\n"
    b"begin 644 x\r\n"
    b"end\r\n"
    b"--b--\r\n"
)


async def until_tagged(client: Dialogue, tag: str) -> tuple[list[bytes], str]:
    """Every untagged response (literals included) up to the tagged one."""
    responses: list[bytes] = []
    while True:
        line = await client.line_bytes()
        if line.startswith(tag.encode() + b" "):
            return responses, line.decode()
        while (match := re.search(rb"~?\{(\d+)\}$", line)) is not None:
            line += b"\r\n" + await client.read(int(match.group(1)))
            line += await client.line_bytes()
        responses.append(line)


async def stored(lab: ImapLab, folder: str = "INBOX") -> list[bytes]:
    target = await (await lab.store.mailbox("group1_1")).folder(folder)
    return [await target.read(info.uid) for info in (await target.snapshot()).messages]


# -------------------------------------------------------------- LITERAL-


async def test_literal_minus_before_login_literal_plus_after(imap_lab: ImapLab) -> None:
    client = await imap_lab.connect()
    await client.send("a1 CAPABILITY")
    caps = (await client.line()).split()
    await client.expect("a1 OK Capability completed")
    assert "LITERAL-" in caps and "LITERAL+" not in caps
    # RFC 7888 4: a non-synchronizing literal over 4096 octets is BAD [TOOBIG]; the
    # session reads past it and stays usable.
    big = LITERAL_MINUS_MAX + 1
    await client.send(b"a2 LOGIN {%d+}\r\n" % big + b"x" * big + b" group1_1")
    await client.expect("a2 BAD [TOOBIG] Non-synchronizing literals are limited to 4096 octets")
    small = b"group1_1"
    await client.send(b"a3 LOGIN {%d+}\r\n%s {8+}\r\ngroup1_1" % (len(small), small))
    await client.expect("a3 OK [CAPABILITY *] Logged in")
    await client.send("a4 CAPABILITY")
    caps = (await client.line()).split()
    assert "LITERAL+" in caps and "LITERAL-" not in caps
    await client.expect("a4 OK Capability completed")
    # After login LITERAL+ has no 4096 limit.
    message = FRED + b"x" * 5000
    await client.send(b"a5 APPEND INBOX {%d+}\r\n%s" % (len(message), message))
    await client.expect("a5 OK [APPENDUID * 1] Append completed")


# ------------------------------------------------------------ MULTIAPPEND


async def test_multiappend_rfc3502_example(imap_lab: ImapLab) -> None:
    assert "MULTIAPPEND" in BASE_CAPABILITIES
    client = await imap_lab.login()
    await client.play("C: A002 CREATE saved-messages\nS: A002 OK [MAILBOXID (*)] Create completed")
    await client.send(b"A003 APPEND saved-messages (\\Seen) {%d}" % len(FRED))
    await client.expect("+ Ready for literal data")
    await client.send(FRED + b' (\\Seen) " 7-Feb-1994 22:43:04 -0800" {%d}' % len(JOE))
    await client.expect("+ Ready for literal data")
    await client.send(JOE)
    line = await client.expect("A003 OK [APPENDUID * 1:2] Append completed")
    assert line.split()[3] == str((await imap_lab.snapshot(folder="saved-messages")).uidvalidity)
    assert await stored(imap_lab, "saved-messages") == [FRED, JOE]
    snapshot = await imap_lab.snapshot(folder="saved-messages")
    assert all(info.flags == frozenset({"\\Seen"}) for info in snapshot.messages)
    assert snapshot.messages[1].internal_date == 760689784.0


async def test_multiappend_is_all_or_nothing(imap_lab: ImapLab) -> None:
    """The second message names a message that does not exist: the first, already
    stored, is taken back and the NO says why (RFC 3502 3)."""
    client = await imap_lab.login()
    await client.send(
        b'a1 APPEND INBOX {%d+}\r\n%s CATENATE (URL "/INBOX;UIDVALIDITY=1/;UID=99")'
        % (len(FRED), FRED)
    )
    await client.expect("a1 NO [BADURL /INBOX;UIDVALIDITY=1/;UID=99] Unable to resolve the URL")
    assert await stored(imap_lab) == []
    await client.send(b"a2 APPEND INBOX {%d+}\r\n%s {0+}\r\n" % (len(FRED), FRED))
    await client.expect("a2 NO Empty message")
    assert await stored(imap_lab) == []
    # A client that fetched the list meanwhile sees nothing left over either.
    await client.play(
        """
        C: a3 SELECT INBOX
        S: * FLAGS *
        S: * OK [PERMANENTFLAGS *
        S: * 0 EXISTS
        S: * 0 RECENT
        S: * OK [UIDVALIDITY *
        S: * OK [UIDNEXT *
        S: * OK [HIGHESTMODSEQ *
        S: * OK [MAILBOXID (*)] Ok
        S: a3 OK [READ-WRITE] Select completed
        """
    )


async def test_multiappend_to_a_missing_mailbox_says_trycreate(imap_lab: ImapLab) -> None:
    client = await imap_lab.login()
    two = b"{%d+}\r\n%s {%d+}\r\n%s" % (len(FRED), FRED, len(JOE), JOE)
    await client.send(b"a1 APPEND nowhere " + two)
    await client.expect("a1 NO [TRYCREATE] *")


# --------------------------------------------------------------- BINARY


async def test_binary_fetch_decodes_parts(imap_lab: ImapLab) -> None:
    assert "BINARY" in BASE_CAPABILITIES
    await imap_lab.deliver(BINARY_MESSAGE)
    client = await imap_lab.login()
    await client.send("a1 EXAMINE INBOX")
    await until_tagged(client, "a1")
    await client.send("a2 FETCH 1 (BINARY.SIZE[1] BINARY.SIZE[2] BINARY.PEEK[1])")
    responses, done = await until_tagged(client, "a2")
    assert done == "a2 OK FETCH completed"
    text = QP_TEXT.encode()
    assert responses == [
        b"* 1 FETCH (BINARY.SIZE[1] %d BINARY.SIZE[2] %d BINARY[1] {%d}\r\n%s)"
        % (len(text), len(ATTACHMENT), len(text), text)
    ]
    # NUL octets go out in a literal8 (octet 256 of the part is one); a partial
    # names its origin.
    await client.send("a3 FETCH 1 (BINARY.PEEK[2] BINARY.PEEK[2]<250.10>)")
    responses, done = await until_tagged(client, "a3")
    assert done == "a3 OK FETCH completed"
    assert responses == [
        b"* 1 FETCH (BINARY[2] ~{%d}\r\n%s BINARY[2]<250> ~{10}\r\n%s)"
        % (len(ATTACHMENT), ATTACHMENT, ATTACHMENT[250:260])
    ]
    # BINARY[] is the message itself; a part that does not exist is NIL.
    await client.send("a4 FETCH 1 (BINARY.PEEK[] BINARY.PEEK[9])")
    responses, _ = await until_tagged(client, "a4")
    assert responses == [
        b"* 1 FETCH (BINARY[] {%d}\r\n%s BINARY[9] NIL)" % (len(BINARY_MESSAGE), BINARY_MESSAGE)
    ]
    await client.play(
        """
        C: a5 FETCH 1 BINARY.PEEK[3]
        S: a5 NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding x-uuencode
        C: a6 FETCH 1 BINARY[1.MIME]
        S: a6 BAD A BINARY section is part numbers only
        C: a7 NOOP
        S: a7 OK Noop completed
        """
    )


async def test_binary_fetch_sets_seen_and_peek_does_not(imap_lab: ImapLab) -> None:
    await imap_lab.deliver(BINARY_MESSAGE)
    client = await imap_lab.login()
    await client.send("a1 SELECT INBOX")
    await until_tagged(client, "a1")
    await client.send("a2 FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])")
    responses, _ = await until_tagged(client, "a2")
    assert b"FLAGS" not in responses[0]
    await client.send("a3 FETCH 1 BINARY[1]")
    responses, _ = await until_tagged(client, "a3")
    assert b"FLAGS (\\Seen" in responses[0]
    assert (await imap_lab.snapshot()).messages[0].flags == frozenset({"\\Seen"})


async def test_append_of_a_binary_literal_keeps_every_octet(imap_lab: ImapLab) -> None:
    """RFC 3516 4.3: ``~{n}`` may carry NUL; FETCH BINARY gives back what was sent."""
    content = ATTACHMENT.replace(b"\r", b"").replace(b"\n", b"")
    message = (
        b"Subject: raw\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: binary\r\n\r\n" + content
    )
    client = await imap_lab.login()
    await client.send(b"a1 APPEND INBOX ~{%d}" % len(message))
    await client.expect("+ Ready for literal data")
    await client.send(message)
    await client.expect("a1 OK [APPENDUID * 1] Append completed")
    assert await stored(imap_lab) == [message]
    # The maildir keeps line ends as CRLF: a lone CR or LF could not come back as sent,
    # so such content is refused as RFC 3516 4.3 says, not silently changed.
    for number, lone in enumerate([b"a\nb", b"a\rb"]):
        data = message + lone
        await client.send(b"b%d APPEND INBOX ~{%d+}\r\n%s" % (number, len(data), data))
        await client.expect(f"b{number} NO [UNKNOWN-CTE] *")
    assert len(await stored(imap_lab)) == 1
    await client.send("a2 EXAMINE INBOX")
    await until_tagged(client, "a2")
    await client.send("a3 FETCH 1 BINARY.PEEK[1]")
    responses, _ = await until_tagged(client, "a3")
    assert responses[0].startswith(b"* 1 FETCH (BINARY[1] ~{")
    assert b"~{%d}\r\n%s)" % (len(content), content) in responses[0]


# -------------------------------------------------------------- CATENATE


async def test_catenate_rfc4469_example(imap_lab: ImapLab) -> None:
    """A draft rebuilt from the old draft's header, a new text part and the old
    attachment, by URL (RFC 4469 5's example, with our own message)."""
    assert "CATENATE" in BASE_CAPABILITIES
    await (await imap_lab.store.mailbox("group1_1")).create_folder("Drafts")
    await imap_lab.deliver(BINARY_MESSAGE, folder="Drafts")
    uidvalidity = (await imap_lab.snapshot(folder="Drafts")).uidvalidity
    client = await imap_lab.login()
    head = f"/Drafts;UIDVALIDITY={uidvalidity}/;UID=1/;SECTION=HEADER"
    attachment = f"/Drafts;UIDVALIDITY={uidvalidity}/;UID=1/;SECTION=2.MIME"
    body = f"/Drafts;UIDVALIDITY={uidvalidity}/;UID=1/;SECTION=2"
    text = b"--b\r\nContent-Type: text/plain\r\n\r\nNew text.\r\n--b\r\n"
    await client.send(
        f'A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL "{head}" TEXT {{{len(text)}}}'
    )
    await client.expect("+ Ready for literal data")
    await client.send(text + f' URL "{attachment}" URL "{body}" TEXT {{9}}'.encode())
    await client.expect("+ Ready for literal data")
    await client.send(b"\r\n--b--\r\n)")
    await client.expect("A003 OK [APPENDUID * 2] Append completed")
    original = await stored(imap_lab, "Drafts")
    header_end = BINARY_MESSAGE.index(b"\r\n\r\n") + 4
    second = BINARY_MESSAGE.index(b"--b\r\nContent-Type: application/octet-stream") + 5
    third = BINARY_MESSAGE.index(b"--b\r\nContent-Type: application/octet-stream", second)
    # A part's body ends before the CRLF of the next boundary (RFC 2046 5.1.1).
    part = BINARY_MESSAGE[second : third - 2]
    expected = BINARY_MESSAGE[:header_end] + text + part + b"\r\n--b--\r\n"
    assert original == [BINARY_MESSAGE, expected]
    flags = (await imap_lab.snapshot(folder="Drafts")).messages[1].flags
    assert flags == frozenset({"\\Seen", "\\Draft", "$MDNSent"})


async def test_catenate_refuses_urls_it_cannot_resolve(imap_lab: ImapLab) -> None:
    await imap_lab.deliver(FRED)
    uidvalidity = (await imap_lab.snapshot()).uidvalidity
    other = await (await imap_lab.store.mailbox("group1_2")).folder("INBOX")
    await other.append(JOE)
    client = await imap_lab.login()
    for number, url in enumerate(
        [
            f"/INBOX;UIDVALIDITY={uidvalidity + 1}/;UID=1",  # stale UIDVALIDITY
            "/INBOX/;UID=2",  # no such message
            "/Nowhere/;UID=1",  # no such mailbox
            "imap://group1_2@JServer.NetLab/INBOX/;UID=1",  # someone else's
            "/INBOX/;UID=1/;SECTION=BOGUS",  # no such section
            "http://example.com/",  # not IMAP
        ]
    ):
        await client.send(f'c{number} APPEND INBOX CATENATE (URL "{url}")')
        await client.expect(f"c{number} NO [BADURL {url}] Unable to resolve the URL")
    await client.play(
        """
        C: d1 APPEND INBOX CATENATE ()
        S: d1 BAD *
        C: d2 APPEND INBOX CATENATE (TEXT {0+}
        C: )
        S: d2 NO Empty message
        """
    )
    # The same message by absolute URL of the user's own, and a partial of it.
    url = f"imap://group1_1@JServer.NetLab/INBOX;UIDVALIDITY={uidvalidity}/;UID=1"
    await client.send(f'e1 APPEND INBOX CATENATE (URL "{url}" URL "/INBOX/;UID=1/;PARTIAL=0.4")')
    await client.expect("e1 OK [APPENDUID * 2] Append completed")
    assert (await stored(imap_lab))[1] == FRED + FRED[:4]


async def test_catenate_result_over_the_size_limit_is_toobig(imap_lab_factory: object) -> None:
    from mailserver.config.model import Limits

    lab = await imap_lab_factory(limits=Limits(max_message_size=len(FRED) * 2))  # type: ignore[operator]
    await lab.deliver(FRED)
    client = await lab.login()
    urls = " ".join(['URL "/INBOX/;UID=1"'] * 3)
    await client.send(f"a1 APPEND INBOX CATENATE ({urls})")
    await client.expect("a1 NO [TOOBIG] Message too large")
    assert len(await stored(lab)) == 1


# ------------------------------------------------------------- IMAP4rev2


async def test_imap4rev2_after_enable(imap_lab: ImapLab) -> None:
    """RFC 9051: advertised beside IMAP4rev1; after ENABLE no \\Recent, ESEARCH
    answers to SEARCH and UTF-8 mailbox names. Before it, IMAP4rev1 as ever."""
    assert "IMAP4rev2" in BASE_CAPABILITIES
    await imap_lab.deliver(FRED)
    await (await imap_lab.store.mailbox("group1_1")).create_folder("Entwürfe")
    client = await imap_lab.login()
    await client.play(
        """
        C: a1 SEARCH ALL
        S: a1 BAD No mailbox selected
        C: a2 LIST "" Entw*
        S: * LIST (\\HasNoChildren) "/" Entw&APw-rfe
        S: a2 OK LIST completed
        C: a3 ENABLE IMAP4rev2
        S: * ENABLED IMAP4REV2
        S: a3 OK Enable completed
        C: a4 LIST "" Entw*
        S: * LIST (\\HasNoChildren) "/" "Entwürfe"
        S: a4 OK LIST completed
        C: a5 SELECT INBOX
        S: * FLAGS *
        S: * OK [PERMANENTFLAGS *
        S: * 1 EXISTS
        S: * OK [UNSEEN 1] *
        S: * OK [UIDVALIDITY *
        S: * OK [UIDNEXT 2] *
        S: * OK [HIGHESTMODSEQ *
        S: * OK [MAILBOXID (*)] Ok
        S: a5 OK [READ-WRITE] Select completed
        C: a6 FETCH 1 FLAGS
        S: * 1 FETCH (FLAGS ())
        S: a6 OK FETCH completed
        C: a7 SEARCH ALL
        S: * ESEARCH (TAG "a7") ALL 1
        S: a7 OK SEARCH completed
        C: a8 UID SEARCH UNSEEN
        S: * ESEARCH (TAG "a8") UID ALL 1
        S: a8 OK UID SEARCH completed
        C: a9 SEARCH DELETED
        S: * ESEARCH (TAG "a9")
        S: a9 OK SEARCH completed
        """
    )
    await imap_lab.deliver(JOE)
    await client.play(
        """
        C: b1 NOOP
        S: * 2 EXISTS
        S: b1 OK Noop completed
        C: b2 STATUS "Entwürfe" (MESSAGES)
        S: * STATUS "Entwürfe" (MESSAGES 0)
        S: b2 OK Status completed
        """
    )


async def test_imap4rev1_session_keeps_recent_and_search(imap_lab: ImapLab) -> None:
    await imap_lab.deliver(FRED)
    client = await imap_lab.login()
    await client.send("a1 SELECT INBOX")
    lines, _ = await until_tagged(client, "a1")
    assert b"* 1 RECENT" in lines
    await client.play(
        """
        C: a2 FETCH 1 FLAGS
        S: * 1 FETCH (FLAGS (\\Recent))
        S: a2 OK FETCH completed
        C: a3 SEARCH ALL
        S: * SEARCH 1
        S: a3 OK SEARCH completed
        """
    )


async def test_imap4rev2_decodes_rfc2231_parameters(imap_lab: ImapLab) -> None:
    """RFC 9051 7.5.2: an IMAP4rev2 client gets ``"FILENAME" "€ rates.pdf"``; an
    IMAP4rev1 client keeps Dovecot's encoded ``"FILENAME*"`` form."""
    await imap_lab.deliver(
        b"Subject: rates\r\nMIME-Version: 1.0\r\nContent-Type: application/pdf;\r\n"
        b" name*0*=utf-8''%E2%82%AC; name*1=\" rates.pdf\"\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''%E2%82%AC%20rates.pdf\r\n"
        b"\r\n%PDF\r\n"
    )
    old = await imap_lab.login()
    await old.send("a1 EXAMINE INBOX")
    await until_tagged(old, "a1")
    await old.send("a2 FETCH 1 BODYSTRUCTURE")
    [rev1], _ = await until_tagged(old, "a2")
    assert b'("NAME*" "utf-8\'\'%E2%82%AC%20rates.pdf")' in rev1
    assert b'("FILENAME*" "utf-8\'\'%E2%82%AC%20rates.pdf")' in rev1
    new = await imap_lab.login()
    await new.play("C: b1 ENABLE IMAP4rev2\nS: * ENABLED IMAP4REV2\nS: b1 OK Enable completed")
    await new.send("b2 EXAMINE INBOX")
    await until_tagged(new, "b2")
    await new.send("b3 FETCH 1 (BODYSTRUCTURE BODY)")
    [rev2], _ = await until_tagged(new, "b3")
    name = "€ rates.pdf".encode()
    literal = b"{%d}\r\n%s" % (len(name), name)
    assert b'("NAME" ' + literal + b")" in rev2
    assert b'("FILENAME" ' + literal + b")" in rev2
    assert b"%E2%82%AC" not in rev2


# ------------------------------------------------- large literals (spooled)


async def test_multiappend_and_catenate_with_spooled_literals(imap_lab: ImapLab) -> None:
    """Literals longer than a command line go to spool files as they arrive
    (``imap/literals.py``); MULTIAPPEND and CATENATE get each file back in its place."""
    big = [FRED + b"%d" % n * 20_000 + b"\r\n" for n in range(2)]
    text = b"Subject: joined\r\n\r\n" + b"y" * 30_000 + b"\r\n"
    client = await imap_lab.login()
    await client.send(
        b"a1 APPEND INBOX {%d+}\r\n%s (\\Seen) {%d+}\r\n%s {%d+}\r\n%s"
        % (len(big[0]), big[0], len(JOE), JOE, len(big[1]), big[1])
    )
    await client.expect("a1 OK [APPENDUID * 1:3] Append completed")
    assert await stored(imap_lab) == [big[0], JOE, big[1]]
    await client.send(
        b'a2 APPEND INBOX CATENATE (TEXT {%d+}\r\n%s URL "/INBOX/;UID=2/;SECTION=TEXT")'
        % (len(text), text)
    )
    await client.expect("a2 OK [APPENDUID * 4] Append completed")
    assert (await stored(imap_lab))[3] == text + JOE.split(b"\r\n\r\n", 1)[1]
    # All or nothing holds for spooled messages too.
    await client.send(
        b'a3 APPEND INBOX {%d+}\r\n%s CATENATE (URL "/INBOX/;UID=99")' % (len(big[0]), big[0])
    )
    await client.expect("a3 NO [BADURL /INBOX/;UID=99] Unable to resolve the URL")
    assert len(await stored(imap_lab)) == 4
    # A client's literal that looks like a marker is just a message.
    fake = b"\x00spooled:00000000000000000000000000000000:0"
    await client.send(b"a4 APPEND INBOX {%d+}\r\n%s" % (len(fake), fake))
    await client.expect("a4 OK [APPENDUID * 6] Append completed")  # 5 was taken back
    assert (await stored(imap_lab))[4] == fake


async def test_spooled_binary_literal_is_checked_for_lone_line_ends(imap_lab: ImapLab) -> None:
    head = b"Subject: raw\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    clean = head + bytes(b for b in range(256) if b not in b"\r\n") * 100
    client = await imap_lab.login()
    await client.send(b"a1 APPEND INBOX ~{%d+}\r\n%s" % (len(clean + b"\n"), clean + b"\n"))
    await client.expect("a1 NO [UNKNOWN-CTE] *")
    await client.send(b"a2 APPEND INBOX ~{%d+}\r\n%s" % (len(clean), clean))
    await client.expect("a2 OK [APPENDUID * 1] Append completed")
    assert await stored(imap_lab) == [clean]
