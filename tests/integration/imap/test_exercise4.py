"""Lab exercise 4 typed byte for byte on a raw socket, as a student does in telnet."""

from __future__ import annotations

import re

import pytest

from mailserver.imap.session import BASE_CAPABILITIES
from tests.integration.imap.conftest import LAB_MESSAGE, RawImap, deliver, make_message
from tests.support.lines import LineClient
from tests.support.server import ServerProcess

#: Every extension is advertised before login, with STARTTLS and AUTH= last;
#: non-synchronizing literals are LITERAL- (4096 octets, RFC 7888) until login.
BEFORE_LOGIN = [cap if cap != "LITERAL+" else "LITERAL-" for cap in BASE_CAPABILITIES]
CAPS = " ".join((*BEFORE_LOGIN, "STARTTLS AUTH=PLAIN AUTH=LOGIN")).encode()


@pytest.mark.parametrize("lower", [False, True])
def test_exercise_4_as_typed(mail_server: ServerProcess, lower: bool) -> None:
    deliver(mail_server, [make_message(1), LAB_MESSAGE])

    def typed(line: str) -> str:
        tag, _, rest = line.partition(" ")
        return f"{tag} {rest.lower()}" if lower else line

    client = RawImap(mail_server.host, mail_server.ports["imap"])
    greeting = client.response_line()
    assert greeting == b"* OK [CAPABILITY " + CAPS + b"] JServer.NetLab IMAP4rev1 ready\r\n"

    assert client.command(typed("00A1 CAPABILITY")) == [
        b"* CAPABILITY " + CAPS + b"\r\n",
        b"00A1 OK Capability completed\r\n",
    ]
    reply = client.command(typed("00A2 LOGIN group1_1 group1_1"))
    # After login STARTTLS and AUTH= are no longer valid commands, so not advertised.
    after_login = " ".join(BASE_CAPABILITIES).encode()
    assert reply[-1] == b"00A2 OK [CAPABILITY " + after_login + b"] Logged in\r\n"

    # The quotes around INBOX are part of what students type; lower case "inbox" works too.
    select = client.command('00A3 SELECT "INBOX"' if not lower else '00A3 select "inbox"')
    assert select[-1] == b"00A3 OK [READ-WRITE] Select completed\r\n"
    assert b"* 2 EXISTS\r\n" in select
    assert b"* 2 RECENT\r\n" in select
    assert b"* OK [UNSEEN 1] First unseen\r\n" in select
    assert any(line.startswith(b"* OK [UIDVALIDITY ") for line in select)
    assert any(line.startswith(b"* FLAGS (") for line in select)
    assert any(line.startswith(b"* OK [PERMANENTFLAGS (") and b"\\*" in line for line in select)
    uidnext = next(
        int(m.group(1)) for line in select if (m := re.match(rb"\* OK \[UIDNEXT (\d+)\]", line))
    )
    assert uidnext == 3

    fetch = client.command(typed(f"00A4 UID FETCH 1:{uidnext} FLAGS"))
    assert fetch == [
        b"* 1 FETCH (UID 1 FLAGS (\\Recent))\r\n",
        b"* 2 FETCH (UID 2 FLAGS (\\Recent))\r\n",
        b"00A4 OK UID FETCH completed\r\n",
    ]
    y = 2  # the lab message
    body = client.command(typed(f"00A5 UID FETCH {y} (BODY.PEEK[] UID)"))
    assert body[0] == (
        b"* 2 FETCH (BODY[] {%d}\r\n" % len(LAB_MESSAGE) + LAB_MESSAGE + b" UID 2)\r\n"
    )
    assert body[1] == b"00A5 OK UID FETCH completed\r\n"

    fields = client.command(typed(f"00A6 UID FETCH {y} (BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)])"))
    expected = b"From: nick <group6_6@JServer.NetLab>\r\nSubject: Test mail 3\r\n\r\n"
    assert fields[0] == (
        b"* 2 FETCH (UID 2 BODY[HEADER.FIELDS (SUBJECT FROM)] {%d}\r\n" % len(expected)
        + expected
        + b")\r\n"
    )

    mime = client.command(typed(f"00A7 UID FETCH {y} BODY.PEEK[2.MIME]"))
    header = (
        b"Content-Type: application/octet-stream; name=notes.txt\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=notes.txt\r\n\r\n"
    )
    assert mime[0] == b"* 2 FETCH (UID 2 BODY[2.MIME] {%d}\r\n" % len(header) + header + b")\r\n"

    structure = client.command(typed(f"00A8 UID FETCH {y} BODYSTRUCTURE"))
    line = structure[0].upper()
    assert line.startswith(b"* 2 FETCH (UID 2 BODYSTRUCTURE ((")
    for fragment in (b'"ALTERNATIVE"', b'"MIXED"', b'"HTML"', b'"GBK"', b'"BASE64"', b"NOTES.TXT"):
        assert fragment in line

    envelope = client.command(typed(f"00A9 UID FETCH {y} ENVELOPE"))
    assert envelope[0].startswith(b'* 2 FETCH (UID 2 ENVELOPE ("Mon, 7 Feb 1994 21:52:25 -0800"')
    assert b'"Test mail 3"' in envelope[0]
    assert b'(("nick" NIL "group6_6" "JServer.NetLab"))' in envelope[0]
    assert b'"<lab-1@JServer.NetLab>"' in envelope[0]

    # All of it was PEEK: nothing became \Seen.
    flags = client.command(typed("00B1 FETCH 1:* FLAGS"))
    assert flags[:2] == [
        b"* 1 FETCH (FLAGS (\\Recent))\r\n",
        b"* 2 FETCH (FLAGS (\\Recent))\r\n",
    ]

    bye = client.command(typed("ZZZZ LOGOUT"))
    assert bye == [b"* BYE Logging out\r\n", b"ZZZZ OK Logout completed\r\n"]
    with pytest.raises(EOFError):
        client.readline()
    client.close()


def test_states_are_enforced(mail_server: ServerProcess) -> None:
    with LineClient(mail_server.host, mail_server.ports["imap"]) as client:
        client.expect("* OK")
        client.send("a1 SELECT INBOX")
        client.expect("a1 BAD Log in first")
        client.send("a2 FETCH 1 FLAGS")
        client.expect("a2 BAD Log in first")
        client.send("a3 LOGIN group1_1 wrong")
        client.expect("a3 NO [AUTHENTICATIONFAILED] Authentication failed")
        client.send("a4 login group1_1 group1_1")
        client.expect("a4 OK")
        client.send("a5 FETCH 1 FLAGS")
        client.expect("a5 BAD No mailbox selected")
        client.send("a6 LOGIN group1_1 group1_1")
        client.expect("a6 BAD Already logged in")
        client.send("a7 SELECT INBOX")
        client.read_until(lambda line: line.startswith("a7 "))
        client.send("a8 CLOSE")
        client.expect("a8 OK")
        client.send("a9 FETCH 1 FLAGS")
        client.expect("a9 BAD No mailbox selected")


def test_typing_mistakes_get_bad_and_session_goes_on(mail_server: ServerProcess) -> None:
    with LineClient(mail_server.host, mail_server.ports["imap"]) as client:
        client.expect("* OK")
        client.send("CAPABILITY")
        client.expect("* BAD Missing tag: every command starts with a tag, e.g. a1 CAPABILITY ...")
        client.send("")
        client.expect("* BAD Empty command line")
        client.send("a1 HELLO")
        client.expect("a1 BAD Unknown command")
        client.send('a2 LOGIN "group1_1 group1_1')
        client.expect("a2 BAD Unterminated quoted string")
        client.send("a3 login group1_1 group1_1")
        client.expect("a3 OK")
        client.send("a4 select inbox")
        client.read_until(lambda line: line.startswith("a4 OK"))
        client.send("a5 fetch 1 flags")
        client.expect("a5 BAD Invalid message sequence number")
        client.send("a6 uid fetch 1:* flags")
        client.expect("a6 OK")
        client.send("a6b noop   ")  # trailing blanks typed by accident
        client.expect("a6b OK")
        client.send("a7 logout")
        client.expect("* BYE")
        client.expect("a7 OK")
