"""POP3 transcripts beyond the RFC example: the lab exercise, states, errors, SASL, limits.

Every test runs the real listener in-process over a real maildir store (see
``test_pop3_rfc1939.py`` for the harness).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re

import pytest

from mailserver.config import AuthSettings, Limits, TimeoutSettings
from mailserver.storage import INBOX, SEEN
from tests.dialogue import test_pop3_rfc1939 as harness
from tests.dialogue.test_pop3_rfc1939 import LabFactory, Pop3Lab, message_of_size

# The in-process listener fixtures, shared with the RFC 1939 dialogue.
lab_factory = harness.lab_factory
pop3_lab = harness.pop3_lab


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def fill(lab: Pop3Lab, count: int, user: str = "group1_1") -> list[bytes]:
    messages = [message_of_size(300 + 10 * n, f"message {n + 1}") for n in range(count)]
    for data in messages:
        await lab.deliver(user, data)
    return messages


async def test_exercise_3_lower_case(pop3_lab: Pop3Lab) -> None:
    messages = await fill(pop3_lab, 5)
    total = sum(len(m) for m in messages)
    sizes = [len(m) for m in messages]
    pop3 = await pop3_lab.connect()
    await pop3.play(
        f"""
        C: user group1_1
        S: +OK
        C: pass group1_1
        S: +OK 5 messages ({total} octets)
        C: stat
        S: +OK 5 {total}
        C: uidl
        S: +OK
        S: 1 *.*
        S: 2 *.*
        S: 3 *.*
        S: 4 *.*
        S: 5 *.*
        S: .
        C: list
        S: +OK 5 messages ({total} octets)
        S: 1 {sizes[0]}
        S: 2 {sizes[1]}
        S: 3 {sizes[2]}
        S: 4 {sizes[3]}
        S: 5 {sizes[4]}
        S: .
        C: top 1 0
        S: +OK*
        S: From: dewey@dbc.mtview.ca.us
        S: Subject: message 1
        S:
        S: .
        C: retr 1
        S: +OK {sizes[0]} octets
        """
    )
    assert await pop3.multiline() == messages[0].split(b"\r\n")[:-1]
    await pop3.play(
        f"""
        C: dele 1
        S: +OK*
        C: noop
        S: +OK
        C: stat
        S: +OK 4 {total - sizes[0]}
        C: rset
        S: +OK*
        C: stat
        S: +OK 5 {total}
        C: dele 2
        S: +OK*
        C: quit
        S: +OK
        """
    )
    assert await pop3.closed()
    left = await pop3_lab.inbox()
    assert len(left.messages) == 4
    # RETR marked message 1 \Seen for IMAP clients; TOP did not mark anything else.
    assert SEEN in left.messages[0].flags
    assert all(SEEN not in m.flags for m in left.messages[1:])


async def test_uidl_is_stable_and_matches_single_form(pop3_lab: Pop3Lab) -> None:
    await fill(pop3_lab, 3)
    first = await pop3_lab.login()
    await first.send("UIDL")
    await first.expect("+OK")
    listing = await first.multiline()
    await first.send("uidl 2")
    assert (await first.line()).encode() == b"+OK " + listing[1]
    await first.play("C: QUIT\nS: +OK")
    again = await pop3_lab.login()
    await again.send("UIDL")
    await again.expect("+OK")
    assert await again.multiline() == listing
    ids = [line.split(b" ")[1] for line in listing]
    assert len(set(ids)) == 3


async def test_commands_in_the_wrong_state_get_err_and_session_goes_on(
    pop3_lab: Pop3Lab,
) -> None:
    await fill(pop3_lab, 1)
    pop3 = await pop3_lab.connect()
    await pop3.play(
        """
        C: stat
        S: -ERR not logged in*
        C: RETR 1
        S: -ERR not logged in*
        C: noop
        S: -ERR not logged in*
        C: PASS group1_1
        S: -ERR send USER first
        C: user group1_1
        S: +OK
        C: pass group1_1
        S: +OK 1 message (300 octets)
        C: user group1_2
        S: -ERR already logged in
        C: APOP x y
        S: -ERR already logged in
        C: AUTH PLAIN
        S: -ERR already logged in
        C: STAT
        S: +OK 1 300
        """
    )


async def test_message_number_arguments_are_validated(pop3_lab: Pop3Lab) -> None:
    await fill(pop3_lab, 2)
    pop3 = await pop3_lab.login()
    await pop3.play(
        """
        C: RETR x
        S: -ERR invalid number*
        C: RETR 0
        S: -ERR no such message, only 2 messages in maildrop
        C: RETR 99999
        S: -ERR no such message, only 2 messages in maildrop
        C: RETR
        S: -ERR syntax: RETR message-number
        C: RETR 1 2
        S: -ERR syntax: RETR message-number
        C: TOP 1
        S: -ERR syntax: TOP message-number line-count
        C: TOP 1 x
        S: -ERR invalid number*
        C: DELE 2
        S: +OK message 2 deleted
        C: DELE 2
        S: -ERR message 2 already deleted
        C: RETR 2
        S: -ERR message 2 already deleted
        C: LIST 2
        S: -ERR message 2 already deleted
        C: UIDL 2
        S: -ERR message 2 already deleted
        C: TOP 2 0
        S: -ERR message 2 already deleted
        C: LIST 1
        S: +OK 1 300
        C: LIST
        S: +OK 1 message (300 octets)
        S: 1 300
        S: .
        C: xyzzy
        S: -ERR unknown command
        C: QUIT
        S: +OK
        """
    )
    assert len((await pop3_lab.inbox()).messages) == 1


async def test_extra_spaces_and_mixed_case(pop3_lab: Pop3Lab) -> None:
    await fill(pop3_lab, 2)
    pop3 = await pop3_lab.connect()
    await pop3.play(
        """
        C:   UsEr    Group1_1@jserver.netlab
        S: +OK
        C: PaSs group1_1
        S: +OK 2 messages (610 octets)
        C:  list   2
        S: +OK 2 310
        C: Top  2   1
        S: +OK*
        """
    )
    lines = await pop3.multiline()
    assert lines[-2:] == [b"", b"x" * (310 - len(lines[0]) - len(lines[1]) - 6 - 2)]


async def test_quit_in_authorization_and_dropped_connection_delete_nothing(
    pop3_lab: Pop3Lab,
) -> None:
    await fill(pop3_lab, 3)
    pop3 = await pop3_lab.connect()
    await pop3.play("C: user group1_1\nS: +OK\nC: quit\nS: +OK")
    assert await pop3.closed()

    dropped = await pop3_lab.login()
    await dropped.play("C: DELE 1\nS: +OK*\nC: DELE 2\nS: +OK*")
    await dropped.close()
    # The lock is released once the server notices the drop; the next login works.
    for _ in range(100):
        again = await pop3_lab.connect()
        await again.play("C: USER group1_1\nS: +OK\nC: PASS group1_1")
        reply = await again.line()
        if reply.startswith("+OK"):
            break
        assert reply == "-ERR [IN-USE] mailbox already locked"
        await again.close()
        await asyncio.sleep(0.02)
    assert reply == "+OK 3 messages (930 octets)"
    assert len((await pop3_lab.inbox()).messages) == 3


async def test_second_login_is_refused_while_the_first_holds_the_maildrop(
    pop3_lab: Pop3Lab,
) -> None:
    await fill(pop3_lab, 1)
    first = await pop3_lab.login()
    second = await pop3_lab.connect()
    await second.play(
        """
        C: USER group1_1
        S: +OK
        C: PASS group1_1
        S: -ERR [IN-USE] mailbox already locked
        C: USER group1_2
        S: +OK
        C: PASS group1_2
        S: +OK 0 messages (0 octets)
        C: QUIT
        S: +OK
        """
    )
    await first.play("C: QUIT\nS: +OK")
    assert await first.closed()
    third = await pop3_lab.login()
    await third.play("C: STAT\nS: +OK 1 300")


async def test_maildrop_is_a_snapshot_taken_at_login(pop3_lab: Pop3Lab) -> None:
    await fill(pop3_lab, 1)
    pop3 = await pop3_lab.login()
    await pop3_lab.deliver("group1_1", message_of_size(500, "late"))
    await pop3.play("C: STAT\nS: +OK 1 300\nC: DELE 1\nS: +OK*\nC: QUIT\nS: +OK")
    later = await pop3_lab.login()
    await later.play("C: STAT\nS: +OK 1 500\nC: LIST\nS: +OK*\nS: 1 500\nS: .")


async def test_messages_expunged_by_another_session_are_handled(pop3_lab: Pop3Lab) -> None:
    await fill(pop3_lab, 3)
    pop3 = await pop3_lab.login()
    snapshot = await pop3_lab.inbox()
    folder = await (await pop3_lab.store.mailbox("group1_1")).folder("INBOX")
    await folder.expunge([snapshot.messages[0].uid, snapshot.messages[1].uid])
    await pop3.play(
        """
        C: RETR 1
        S: -ERR message was deleted by another session
        C: TOP 2 0
        S: -ERR message was deleted by another session
        C: DELE 1
        S: +OK*
        C: DELE 3
        S: +OK*
        C: QUIT
        S: +OK
        """
    )
    assert (await pop3_lab.inbox()).messages == ()


async def test_bare_lf_messages_are_sent_with_crlf_and_counted_so(pop3_lab: Pop3Lab) -> None:
    await pop3_lab.deliver("group1_1", b"Subject: lf\n\n.dot\nline\n")
    crlf = b"Subject: lf\r\n\r\n.dot\r\nline\r\n"
    pop3 = await pop3_lab.login()
    await pop3.play(f"C: LIST 1\nS: +OK 1 {len(crlf)}\nC: RETR 1\nS: +OK {len(crlf)} octets")
    raw = []
    while (line := await pop3.line_bytes()) != b".":
        raw.append(line)
    assert raw == [b"Subject: lf", b"", b"..dot", b"line"]


async def test_auth_mechanisms_and_initial_responses(pop3_lab: Pop3Lab) -> None:
    pop3 = await pop3_lab.connect()
    await pop3.play(
        """
        C: AUTH
        S: +OK*
        S: PLAIN
        S: LOGIN
        S: .
        C: AUTH CRAM-SHA1
        S: -ERR unrecognized authentication mechanism
        """
    )
    plain = b64("\0group1_1\0group1_1")
    await pop3.play(f"C: auth plain {plain}\nS: +OK 0 messages (0 octets)\nC: QUIT\nS: +OK")

    # PLAIN without initial response: an empty challenge "+ ".
    pop3 = await pop3_lab.connect()
    await pop3.play(f"C: AUTH PLAIN\nS: + *\nC: {plain}\nS: +OK 0 messages*")

    # LOGIN step by step, as exercise 2 types it for SMTP.
    pop3 = await pop3_lab.connect()
    await pop3.play(
        f"""
        C: auth login
        S: + VXNlcm5hbWU6
        C: {b64("group1_2@JServer.NetLab")}
        S: + UGFzc3dvcmQ6
        C: {b64("group1_2")}
        S: +OK 0 messages*
        """
    )

    # LOGIN with the user name as initial response.
    pop3 = await pop3_lab.connect()
    await pop3.play(
        f"""
        C: AUTH LOGIN {b64("group1_3")}
        S: + UGFzc3dvcmQ6
        C: {b64("group1_3")}
        S: +OK 0 messages*
        """
    )


async def test_auth_failures_are_clean(pop3_lab: Pop3Lab) -> None:
    pop3 = await pop3_lab.connect()
    await pop3.play(
        f"""
        C: AUTH PLAIN
        S: + *
        C: *
        S: -ERR authentication cancelled
        C: AUTH LOGIN
        S: + VXNlcm5hbWU6
        C: group1_1
        S: -ERR [AUTH] invalid base64
        C: AUTH PLAIN {b64("group1_1 group1_1")}
        S: -ERR [AUTH]*
        C: AUTH PLAIN {b64(chr(0) + "group1_1" + chr(0) + "wrong")}
        S: -ERR [AUTH] authentication failed
        C: AUTH PLAIN {b64("group1_2" + chr(0) + "group1_1" + chr(0) + "group1_1")}
        S: -ERR [AUTH] authentication failed
        C: AUTH PLAIN =
        S: -ERR [AUTH]*
        C: USER group1_1
        S: +OK
        C: PASS wrong
        S: -ERR [AUTH] authentication failed
        C: PASS group1_1
        S: -ERR send USER first
        C: USER nosuchuser
        S: +OK
        C: PASS nosuchuser
        S: -ERR [AUTH] authentication failed
        C: USER group1_1
        S: +OK
        C: PASS group1_1
        S: +OK*
        """
    )


async def test_apop_needs_a_plaintext_equivalent_secret(pop3_lab: Pop3Lab) -> None:
    pop3 = await pop3_lab.connect()
    banner = re.search(r"<[^>]+>", pop3.greeting)
    assert banner is not None
    for_bob = hashlib.md5((banner.group(0) + "bob-secret-pw").encode()).hexdigest()
    for_group = hashlib.md5((banner.group(0) + "group1_1").encode()).hexdigest()
    await pop3.play(
        f"""
        C: APOP bob {for_bob}
        S: -ERR [AUTH] authentication failed
        C: apop group1_1 {for_group.upper()}
        S: +OK 0 messages (0 octets)
        """
    )


async def test_capa(pop3_lab: Pop3Lab) -> None:
    pop3 = await pop3_lab.connect()
    await pop3.send("capa")
    await pop3.expect("+OK*")
    caps = {line.decode() for line in await pop3.multiline()}
    assert {
        "TOP",
        "UIDL",
        "USER",
        "SASL PLAIN LOGIN",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "EXPIRE NEVER",
        "IMPLEMENTATION mailserver",
    } <= caps
    await pop3.play("C: USER group1_1\nS: +OK\nC: PASS group1_1\nS: +OK*\nC: CAPA\nS: +OK*")
    assert "UIDL" in {line.decode() for line in await pop3.multiline()}


async def test_plaintext_refused_without_tls_when_configured(lab_factory: LabFactory) -> None:
    lab = await lab_factory(auth=AuthSettings(allow_plaintext_without_tls=False))
    pop3 = await lab.connect()
    await pop3.send("CAPA")
    await pop3.expect("+OK*")
    caps = {line.decode() for line in await pop3.multiline()}
    assert "USER" not in caps
    assert not any(cap.startswith("SASL") for cap in caps)
    await pop3.play(
        f"""
        C: USER group1_1
        S: -ERR [AUTH] plaintext authentication disallowed without TLS
        C: PASS group1_1
        S: -ERR [AUTH] plaintext authentication disallowed without TLS
        C: AUTH PLAIN {b64(chr(0) + "group1_1" + chr(0) + "group1_1")}
        S: -ERR [AUTH] plaintext authentication disallowed without TLS
        C: AUTH
        S: +OK*
        S: .
        """
    )
    banner = re.search(r"<[^>]+>", pop3.greeting)
    assert banner is not None
    digest = hashlib.md5((banner.group(0) + "group1_1").encode()).hexdigest()
    await pop3.play(f"C: APOP group1_1 {digest}\nS: +OK 0 messages (0 octets)")


async def test_idle_session_times_out_and_deletes_nothing(lab_factory: LabFactory) -> None:
    lab = await lab_factory(timeouts=TimeoutSettings(pop3=0.3))
    await fill(lab, 2)
    pop3 = await lab.login()
    await pop3.play("C: DELE 1\nS: +OK*")
    await pop3.expect("-ERR [SYS/TEMP] autologout: idle for too long")
    assert await pop3.closed()
    assert len((await lab.inbox()).messages) == 2
    # The lock went with the session.
    again = await lab.login()
    await again.play("C: STAT\nS: +OK 2 *")


async def test_too_many_bad_commands_closes(lab_factory: LabFactory) -> None:
    lab = await lab_factory(limits=Limits(max_bad_commands=3))
    pop3 = await lab.connect()
    await pop3.play(
        """
        C: hello
        S: -ERR unknown command
        C: RETR x
        S: -ERR not logged in*
        C:
        S: -ERR empty command
        C: bogus
        S: -ERR unknown command
        S: -ERR too many bad commands, closing connection
        """
    )
    assert await pop3.closed()


async def test_overlong_line_is_refused_and_the_session_goes_on(lab_factory: LabFactory) -> None:
    lab = await lab_factory(limits=Limits(max_line_length=100))
    pop3 = await lab.connect()
    await pop3.send("USER " + "a" * 5000)
    await pop3.expect("-ERR line too long")
    await pop3.play("C: USER group1_1\nS: +OK\nC: PASS group1_1\nS: +OK*")


async def test_pipelined_commands_are_answered_in_order(pop3_lab: Pop3Lab) -> None:
    await fill(pop3_lab, 2)
    pop3 = await pop3_lab.connect()
    pop3.writer.write(b"USER group1_1\r\nPASS group1_1\r\nSTAT\r\nLIST\r\nUIDL 1\r\nNOOP\r\n")
    await pop3.play(
        """
        S: +OK
        S: +OK 2 messages (610 octets)
        S: +OK 2 610
        S: +OK 2 messages (610 octets)
        S: 1 300
        S: 2 310
        S: .
        S: +OK 1 *
        S: +OK
        """
    )


async def test_shutdown_says_goodbye_to_idle_sessions(pop3_lab: Pop3Lab) -> None:
    await fill(pop3_lab, 1)
    pop3 = await pop3_lab.login()
    await pop3.play("C: DELE 1\nS: +OK*")
    await pop3_lab.sessions.shutdown(2.0)
    await pop3.expect("-ERR [SYS/TEMP] server shutting down*")
    assert await pop3.closed()
    assert len((await pop3_lab.inbox()).messages) == 1


async def _wait_for_inbox(lab: Pop3Lab, done: object, seconds: float = 20.0) -> object:
    """Poll the inbox until ``done(snapshot)`` holds (the session ends after the client)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        snapshot = await lab.inbox()
        if done(snapshot):  # type: ignore[operator]
            return snapshot
        assert asyncio.get_running_loop().time() < deadline, "inbox never reached the state"
        await asyncio.sleep(0.05)


async def test_retr_marks_seen_at_quit_in_one_batch_and_not_deleted_ones(pop3_lab: Pop3Lab) -> None:
    await fill(pop3_lab, 4)
    pop3 = await pop3_lab.login()
    for number in (1, 2, 3):
        await pop3.send(f"RETR {number}")
        await pop3.expect("+OK * octets")
        await pop3.multiline()
    await pop3.play(
        """
        C: DELE 2
        S: +OK*
        C: QUIT
        S: +OK
        """
    )
    left = (await pop3_lab.inbox()).messages
    assert len(left) == 3  # message 2 expunged at UPDATE, before the +OK
    assert [SEEN in m.flags for m in left] == [True, True, False]


async def test_retr_without_quit_still_marks_seen_and_expunges_nothing(pop3_lab: Pop3Lab) -> None:
    await fill(pop3_lab, 3)
    pop3 = await pop3_lab.login()
    for number in (1, 3):
        await pop3.send(f"RETR {number}")
        await pop3.expect("+OK * octets")
        await pop3.multiline()
    await pop3.play(
        """
        C: DELE 3
        S: +OK*
        """
    )
    await pop3.close()  # the client just goes away: no UPDATE state
    left = await _wait_for_inbox(
        pop3_lab, lambda snap: SEEN in snap.messages[0].flags and SEEN in snap.messages[-1].flags
    )
    messages = left.messages  # type: ignore[attr-defined]
    assert len(messages) == 3
    assert [SEEN in m.flags for m in messages] == [True, False, True]


async def test_retr_in_order_reads_small_messages_ahead_in_few_store_calls(
    pop3_lab: Pop3Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A "download all" of 20 messages (one of 300 KB, dot lines, no final CRLF)
    gets every octet right, with a handful of store calls instead of one each;
    out of order, a deleted message and the big one take the ordinary path."""
    messages = [message_of_size(400 + 37 * n, f"message {n + 1}") for n in range(20)]
    messages[3] = b"Subject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n"
    messages[7] = b"Subject: big\r\n\r\n" + (b"y" * 98 + b"\r\n") * 3_000  # 300 KB
    messages[11] = b"Subject: no final line break\r\n\r\nlast line"
    for data in messages:
        await pop3_lab.deliver("group1_1", data)
    folder = await (await pop3_lab.store.mailbox("group1_1")).folder(INBOX)
    calls: list[str] = []
    for name in ("read_many", "open_message"):
        original = getattr(folder, name)

        def counting(*args: object, _name: str = name, _original: object = original) -> object:
            calls.append(_name)
            return _original(*args)  # type: ignore[operator]

        monkeypatch.setattr(folder, name, counting)
    pop3 = await pop3_lab.login()
    await pop3.play("C: DELE 15\nS: +OK*")
    for number in [*range(1, 15), *range(16, 21), 2]:
        await pop3.send(f"RETR {number}")
        expected = messages[number - 1]
        wire = expected if expected.endswith(b"\r\n") else expected + b"\r\n"
        await pop3.expect(f"+OK {len(expected)} octets")
        assert b"\r\n".join(await pop3.multiline()) + b"\r\n" == wire, number
    await pop3.play("C: QUIT\nS: +OK")
    # 1-7 read in one call; 8 (300 KB) opened and streamed; 9-20 but the deleted 15
    # in one call; the out-of-order RETR 2 opened on its own.
    assert calls == ["read_many", "open_message", "read_many", "open_message"]
