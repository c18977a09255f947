"""The transcript recorder: lines, masking, shortened bodies, literals and bounds."""

from __future__ import annotations

import asyncio
import logging

import pytest

from mailserver.config.model import TranscriptSettings
from mailserver.events import Event, EventBus, LocalEventBus, Topic
from mailserver.transcripts import SessionRecorder
from mailserver.transcripts.archive import (
    MAX_LINES_PER_SESSION,
    TranscriptArchive,
    split_lines,
)
from mailserver.transcripts.lines import MAX_LINE_OCTETS
from mailserver.transcripts.recorder import FLUSH_DELAY
from mailserver.transcripts.rules import MASK

log = logging.getLogger("test.transcripts")


class Listener:
    def __init__(self, bus: LocalEventBus) -> None:
        self.events: list[Event] = []
        bus.subscribe("*", self.events.append)

    def lines(self) -> list[str]:
        return [
            f"{direction}: {text}"
            for e in self.events
            if e.topic == Topic.SESSION_LINES
            for direction, text in split_lines(e.data["lines"])
        ]


def recorder(
    listener: str = "smtp", passwords: str = "mask", body_lines: int = 3
) -> tuple[SessionRecorder, Listener, LocalEventBus]:
    bus = LocalEventBus()
    seen = Listener(bus)
    settings = TranscriptSettings(passwords=passwords, body_lines=body_lines)
    rec = SessionRecorder(
        bus, settings, listener, "192.0.2.7", 40001, tls=False, log=log, where="test"
    )
    return rec, seen, bus


def smtp_recorder(bus: EventBus, port: int = 1) -> SessionRecorder:
    """An SMTP session from 192.0.2.7:``port`` recorded on ``bus``, default settings."""
    return SessionRecorder(
        bus, TranscriptSettings(), "smtp", "192.0.2.7", port, tls=False, log=log, where="t"
    )


def test_nothing_is_built_when_nobody_listens_to_lines() -> None:
    bus = LocalEventBus()
    opened: list[Event] = []
    bus.subscribe(Topic.SESSION_OPENED, opened.append)
    rec = smtp_recorder(bus)
    assert rec._client is None and rec._server is None
    rec.client(b"EHLO x\r\n")
    assert opened[0].data["peer"] == "192.0.2.7:1"
    assert opened[0].data["protocol"] == "smtp"


def test_smtp_lines_in_any_pieces() -> None:
    rec, seen, _ = recorder()
    rec.server(b"220 ready\r\n")
    rec.client(b"EH")
    rec.client(b"LO pc1\r\nNOOP\r\n")
    rec.server(b"250 ok\r\n250 ok\r\n")
    assert seen.lines() == ["S: 220 ready", "C: EHLO pc1", "C: NOOP", "S: 250 ok", "S: 250 ok"]


def test_smtp_data_body_is_shortened_and_the_dot_shown() -> None:
    rec, seen, _ = recorder(body_lines=2)
    rec.client(b"DATA\r\n")
    rec.server(b"354 go ahead\r\n")
    body = b"Subject: hi\r\n\r\n" + b"line\r\n" * 10
    rec.client(body + b".\r\nQUIT\r\n")
    lines = seen.lines()
    assert lines[:4] == ["C: DATA", "S: 354 go ahead", "C: Subject: hi", "C: "]
    assert lines[4] == f"C: [... 10 more lines, {len(body)} octets in all]"
    assert lines[5:] == ["C: .", "C: QUIT"]


def test_smtp_bdat_chunk_is_shortened_and_the_next_command_seen() -> None:
    """RFC 3030: a BDAT chunk is counted by size, not dot-terminated; it is shown
    shortened like a DATA body, and the command after it is a command again."""
    rec, seen, _ = recorder(body_lines=2)
    chunk = b"Subject: hi\r\n\r\n" + b"line\r\n" * 10
    rec.client(b"BDAT %d LAST\r\n" % len(chunk) + chunk[:20])
    rec.client(chunk[20:] + b"QUIT\r\n")
    lines = seen.lines()
    assert lines[:3] == [f"C: BDAT {len(chunk)} LAST", "C: Subject: hi", "C: "]
    assert lines[3] == f"C: [... 10 more lines, {len(chunk)} octets in all]"
    assert lines[4:] == ["C: QUIT"]


def test_smtp_auth_login_is_masked() -> None:
    rec, seen, _ = recorder()
    rec.client(b"AUTH LOGIN\r\n")
    rec.server(b"334 VXNlcm5hbWU6\r\n")
    rec.client(b"Z3JvdXAxXzE=\r\n")
    rec.server(b"334 UGFzc3dvcmQ6\r\n")
    rec.client(b"c2VjcmV0\r\n")
    rec.server(b"235 2.7.0 ok\r\n")
    rec.client(b"AUTH PLAIN AGdyb3VwMV8xAHNlY3JldA==\r\n")
    assert seen.lines() == [
        "C: AUTH LOGIN",
        "S: 334 VXNlcm5hbWU6",
        f"C: {MASK}",
        "S: 334 UGFzc3dvcmQ6",
        f"C: {MASK}",
        "S: 235 2.7.0 ok",
        f"C: AUTH PLAIN {MASK}",
    ]
    assert "c2VjcmV0" not in repr(seen.events)


def test_smtp_auth_login_shown_with_its_decoding() -> None:
    rec, seen, _ = recorder(passwords="show")
    rec.client(b"AUTH LOGIN\r\n")
    rec.server(b"334 VXNlcm5hbWU6\r\n")
    rec.client(b"Z3JvdXAxXzE=\r\n")
    rec.server(b"334 UGFzc3dvcmQ6\r\n")
    rec.client(b"c2VjcmV0\r\n")
    rec.client(b"AUTH PLAIN AGdyb3VwMV8xAHNlY3JldA==\r\n")
    lines = seen.lines()
    assert lines[1] == "S: 334 VXNlcm5hbWU6   [base64 of: Username:]"
    assert lines[2] == "C: Z3JvdXAxXzE=   [base64 of: group1_1]"
    assert lines[4] == "C: c2VjcmV0   [base64 of: secret]"
    assert lines[5] == "C: AUTH PLAIN AGdyb3VwMV8xAHNlY3JldA==   [base64 of: \\0group1_1\\0secret]"


def test_pop3_pass_masked_and_retr_shortened() -> None:
    rec, seen, _ = recorder("pop3", body_lines=1)
    rec.client(b"USER group1_1\r\n")
    rec.client(b"PASS group1_1\r\n")
    rec.client(b"RETR 1\r\n")
    rec.server(b"+OK 30 octets\r\n")
    rec.server_body()
    rec.server(b"Subject: x\r\n\r\n..dotted\r\n")
    rec.server(b".\r\n")
    rec.server(b"+OK bye\r\n")
    assert seen.lines() == [
        "C: USER group1_1",
        f"C: PASS {MASK}",
        "C: RETR 1",
        "S: +OK 30 octets",
        "S: Subject: x",
        "S: [... 2 more lines, 24 octets in all]",
        "S: .",
        "S: +OK bye",
    ]


def test_pop3_auth_continuation_masked() -> None:
    rec, seen, _ = recorder("pop3s")
    rec.client(b"AUTH PLAIN\r\n")
    rec.server(b"+ \r\n")
    rec.client(b"AGdyb3VwMV8xAHNlY3JldA==\r\n")
    rec.client(b"STAT\r\n")
    assert seen.lines()[2:] == [f"C: {MASK}", "C: STAT"]


def test_imap_login_masked_and_literals_followed() -> None:
    rec, seen, _ = recorder("imap", body_lines=1)
    rec.client(b"a1 LOGIN group1_1 group1_1\r\n")
    rec.client(b'a2 LOGIN "group 1" "pass word"\r\n')
    rec.client(b"a3 APPEND INBOX {12}\r\n")
    rec.server(b"+ Ready for literal data\r\n")
    rec.client(b"one\r\ntwo\r\nxx\r\n")
    rec.server(b"a3 OK APPEND completed\r\n")
    rec.server(b"* 1 FETCH (BODY[] {9}\r\nab\r\ncd\r\ne)\r\n")
    assert seen.lines() == [
        f"C: a1 LOGIN group1_1 {MASK}",
        f'C: a2 LOGIN "group 1" {MASK}',
        "C: a3 APPEND INBOX {12}",
        "S: + Ready for literal data",
        "C: one",
        "C: [... 2 more lines, 12 octets in all]",
        "C: ",
        "S: a3 OK APPEND completed",
        "S: * 1 FETCH (BODY[] {9}",
        "S: ab",
        "S: [... 2 more lines, 9 octets in all]",
        "S: )",
    ]


def test_imap_refused_literal_does_not_swallow_the_next_command() -> None:
    rec, seen, _ = recorder("imap")
    rec.client(b"a1 APPEND INBOX {999999999}\r\n")
    rec.server(b"a1 NO [TOOBIG] Message too large\r\n")
    rec.client(b"a2 NOOP\r\n")
    assert seen.lines()[-1] == "C: a2 NOOP"


def test_imap_password_literal_is_masked() -> None:
    rec, seen, _ = recorder("imap")
    rec.client(b"a1 LOGIN group1_1 {6}\r\n")
    rec.server(b"+ Ready for literal data\r\n")
    rec.client(b"secret\r\n")
    assert "secret" not in " ".join(seen.lines())


def test_imap_idle_done_is_not_masked() -> None:
    rec, seen, _ = recorder("imap")
    rec.client(b"a1 IDLE\r\n")
    rec.server(b"+ idling\r\n")
    rec.client(b"DONE\r\n")
    assert seen.lines()[-1] == "C: DONE"


def test_imap_authenticate_response_masked() -> None:
    rec, seen, _ = recorder("imap")
    rec.client(b"a1 AUTHENTICATE PLAIN\r\n")
    rec.server(b"+ \r\n")
    rec.client(b"AGdyb3VwMV8xAHNlY3JldA==\r\n")
    rec.client(b"a2 AUTHENTICATE PLAIN AGdyb3VwMV8xAHNlY3JldA==\r\n")
    assert seen.lines()[2:] == [f"C: {MASK}", f"C: a2 AUTHENTICATE PLAIN {MASK}"]


def test_a_huge_line_is_cut() -> None:
    rec, seen, _ = recorder()
    rec.client(b"X" * (MAX_LINE_OCTETS * 5))
    rec.client(b"\r\nNOOP\r\n")
    lines = seen.lines()
    assert len(lines[0]) < MAX_LINE_OCTETS + 20 and lines[0].endswith("[...]")
    assert lines[1] == "C: NOOP"
    assert len(rec._client._partial) == 0  # type: ignore[union-attr]


def test_control_characters_are_made_visible() -> None:
    rec, seen, _ = recorder()
    rec.client(b"EHLO \x1b[31mred\r\n")
    assert seen.lines() == ["C: EHLO \\x1b[31mred"]


def test_close_logs_one_line_and_publishes_counts(caplog: pytest.LogCaptureFixture) -> None:
    rec, seen, _ = recorder()
    rec.login("group1_1", "LOGIN")
    rec.count("messages")
    with caplog.at_level(logging.INFO, logger="test.transcripts"):
        rec.close()
        rec.close()
    ended = [r.getMessage() for r in caplog.records]
    assert len(ended) == 1
    assert ended[0].startswith("test session ended after ")
    assert ended[0].endswith("user group1_1, plaintext, messages=1")
    closed = [e for e in seen.events if e.topic == Topic.SESSION_CLOSED]
    assert closed[0].data["counts"] == {"messages": 1}
    assert closed[0].data["user"] == "group1_1"


def test_archive_bounds_sessions_octets_and_lines() -> None:
    bus = LocalEventBus()
    archive = TranscriptArchive(keep_sessions=3, keep_octets=10_000)
    archive.attach(bus)
    settings = TranscriptSettings()
    for n in range(5):
        rec = SessionRecorder(bus, settings, "smtp", "10.0.0.1", n, tls=False, log=log, where="t")
        rec.client(b"NOOP\r\n")
        rec.close()
    assert len(archive.finished) == 3
    assert [r.peer for r in archive.sessions()] == ["10.0.0.1:4", "10.0.0.1:3", "10.0.0.1:2"]
    big = SessionRecorder(bus, settings, "smtp", "10.0.0.2", 1, tls=False, log=log, where="t")
    big.client(b"NOOP\r\n" * (MAX_LINES_PER_SESSION + 10))
    record = archive.get(big.id)
    assert record is not None
    assert len(record.lines) == MAX_LINES_PER_SESSION and record.dropped == 10
    assert archive.connected()[0]["peer"] == "10.0.0.2:1"
    big.close()
    # Over the octet bound: the big session pushes the older ones out, then goes too.
    assert archive._finished_octets <= 10_000
    assert not archive.live


def test_a_long_imap_response_is_shortened_and_its_tagged_reply_shown() -> None:
    """Past ``response_lines`` the recorder only counts (bytes.count, no step per line);
    the tagged reply ends the hidden stretch and shows, with the count before it."""
    bus = LocalEventBus()
    seen = Listener(bus)
    settings = TranscriptSettings(response_lines=3)
    rec = SessionRecorder(bus, settings, "imap", "192.0.2.7", 1, tls=False, log=log, where="t")
    rec.client(b"a1 FETCH 1:* (FLAGS)\r\n")
    response = [b"* %d FETCH (FLAGS (\\Seen))\r\n" % n for n in range(1, 1001)]
    data = b"".join(response) + b"a1 OK FETCH completed\r\n"
    for start in range(0, len(data), 4096):  # in pieces, as a socket writes it
        rec.server(data[start : start + 4096])
    hidden = response[3:]
    assert seen.lines() == [
        "C: a1 FETCH 1:* (FLAGS)",
        "S: * 1 FETCH (FLAGS (\\Seen))",
        "S: * 2 FETCH (FLAGS (\\Seen))",
        "S: * 3 FETCH (FLAGS (\\Seen))",
        f"S: [... {len(hidden)} more lines, {sum(map(len, hidden))} octets]",
        "S: a1 OK FETCH completed",
    ]
    # The next response gets its lines again.
    rec.client(b"a2 NOOP\r\n")
    rec.server(b"* 3 EXISTS\r\na2 OK NOOP completed\r\n")
    assert seen.lines()[-3:] == ["C: a2 NOOP", "S: * 3 EXISTS", "S: a2 OK NOOP completed"]


def test_a_shortened_response_without_its_end_is_summed_up_at_the_next_command() -> None:
    """No tagged reply seen (an IDLE, or a protocol without one): the client's next
    command, or the end of the session, says what was hidden."""
    bus = LocalEventBus()
    seen = Listener(bus)
    settings = TranscriptSettings(response_lines=2)
    rec = SessionRecorder(bus, settings, "imap", "192.0.2.7", 1, tls=False, log=log, where="t")
    rec.client(b"a1 IDLE\r\n")
    rec.server(b"+ idling\r\n* 1 EXISTS\r\n* 2 EXISTS\r\n* 3 EX")
    rec.server(b"ISTS\r\n")
    rec.client(b"DONE\r\n")
    rec.server(b"a1 OK IDLE terminated\r\n")
    rec.client(b'a2 LIST "" *\r\n')
    rec.server(b'* LIST () "/" A\r\n* LIST () "/" B\r\n* LIST () "/" C\r\n')
    rec.close()
    assert seen.lines() == [
        "C: a1 IDLE",
        "S: + idling",
        "S: * 1 EXISTS",
        "S: [... 2 more lines, 24 octets]",
        "C: DONE",
        "S: a1 OK IDLE terminated",
        'C: a2 LIST "" *',
        'S: * LIST () "/" A',
        'S: * LIST () "/" B',
        "S: [... 1 more lines, 17 octets]",
    ]


def test_literals_in_a_long_response_do_not_end_it_early() -> None:
    """Bodies keep being shortened inside a long response; hiding starts between
    responses lines, never inside a literal, so the counts stay right."""
    bus = LocalEventBus()
    seen = Listener(bus)
    settings = TranscriptSettings(response_lines=4, body_lines=1)
    rec = SessionRecorder(bus, settings, "imap", "192.0.2.7", 1, tls=False, log=log, where="t")
    rec.client(b"t FETCH 1:3 BODY[]\r\n")
    one = b"* %d FETCH (BODY[] {14}\r\nt FAKE\r\nline\r\n)\r\n"
    rec.server(one % 1 + one % 2 + one % 3 + b"t OK done\r\n")
    assert seen.lines() == [
        "C: t FETCH 1:3 BODY[]",
        "S: * 1 FETCH (BODY[] {14}",
        "S: t FAKE",
        "S: [... 1 more lines, 14 octets in all]",
        "S: )",
        f"S: [... 8 more lines, {2 * len(one % 2)} octets]",
        "S: t OK done",
    ]


async def test_lines_of_one_moment_go_out_as_one_event_in_order() -> None:
    """With a running loop, a session's lines wait FLUSH_DELAY and go out together,
    both directions in the order they happened; a login or the end sends them first."""
    bus = LocalEventBus()
    seen = Listener(bus)
    rec = smtp_recorder(bus)
    rec.server(b"220 ready\r\n")
    rec.client(b"EHLO pc1\r\n")
    rec.server(b"250-hello\r\n250 AUTH PLAIN\r\n")
    rec.client(b"NOOP\r\n")
    rec.server(b"250 ok\r\n")
    assert not [e for e in seen.events if e.topic == Topic.SESSION_LINES]
    deadline = asyncio.get_running_loop().time() + 5
    while not [e for e in seen.events if e.topic == Topic.SESSION_LINES]:
        assert asyncio.get_running_loop().time() < deadline, "the lines never went out"
        await asyncio.sleep(0.01)
    batches = [e for e in seen.events if e.topic == Topic.SESSION_LINES]
    assert len(batches) == 1
    assert seen.lines() == [
        "S: 220 ready",
        "C: EHLO pc1",
        "S: 250-hello",
        "S: 250 AUTH PLAIN",
        "C: NOOP",
        "S: 250 ok",
    ]
    rec.client(b"AUTH PLAIN AGdyb3VwMV8xAHNlY3JldA==\r\n")
    rec.login("group1_1", "PLAIN")
    rec.client(b"QUIT\r\n")
    rec.close()
    topics = [e.topic for e in seen.events if e.topic != Topic.SESSION_OPENED]
    assert topics == [
        Topic.SESSION_LINES,
        Topic.SESSION_LINES,
        Topic.SESSION_LOGIN,
        Topic.SESSION_LINES,
        Topic.SESSION_CLOSED,
    ]
    assert seen.lines()[-2:] == [f"C: AUTH PLAIN {MASK}", "C: QUIT"]


def test_archive_keeps_batches_compactly_and_unpacks_them() -> None:
    bus = LocalEventBus()
    archive = TranscriptArchive()
    archive.attach(bus)
    bus.subscribe(Topic.SESSION_LINES, lambda event: None)  # a console: cut as they come
    rec = smtp_recorder(bus, 5)
    rec.client(b"EHLO a\r\nNOOP\r\n")
    rec.note("TLS established (TLSv1.3)")
    record = archive.get(rec.id)
    assert record is not None and record.tls
    assert len(record.batches) == 2 and record.line_count == 3
    assert [(d, t) for _, d, t in record.lines] == [
        ("C", "EHLO a"),
        ("C", "NOOP"),
        ("*", "TLS established (TLSv1.3)"),
    ]
    assert record.formatted()[0].endswith(" C: EHLO a")


class PublishLog(LocalEventBus):
    """A local bus that also records each ``publish_many`` call's topics."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[list[str]] = []

    def publish_many(self, events: list[Event], *, shown_here: int = 0) -> None:
        self.calls.append([e.topic for e in events])
        super().publish_many(events, shown_here=shown_here)


async def test_a_short_session_is_one_publication_opened_lines_closed() -> None:
    """A session that ends within FLUSH_DELAY goes out as one ``publish_many``
    (one message between processes), and subscribers still see opened, lines
    and closed in that order."""
    bus = PublishLog()
    seen = Listener(bus)
    rec = smtp_recorder(bus)
    rec.server(b"220 ready\r\n")
    rec.client(b"QUIT\r\n")
    rec.server(b"221 bye\r\n")
    rec.close()
    assert bus.calls == [[Topic.SESSION_OPENED, Topic.SESSION_LINES, Topic.SESSION_CLOSED]]
    assert [e.topic for e in seen.events] == bus.calls[0]
    assert seen.events[0].data["peer"] == "192.0.2.7:1"
    assert seen.lines() == ["S: 220 ready", "C: QUIT", "S: 221 bye"]
    await asyncio.sleep(FLUSH_DELAY * 3)  # the timer armed at the start finds nothing
    assert len(bus.calls) == 1


async def test_opened_goes_out_within_the_flush_delay_of_a_silent_session() -> None:
    """ "Connected now": this process's subscribers see ``session.opened`` at once;
    the other processes, with nothing else to send, after FLUSH_DELAY."""
    bus = PublishLog()
    seen = Listener(bus)
    rec = SessionRecorder(
        bus, TranscriptSettings(), "imap", "192.0.2.7", 1, tls=False, log=log, where="t"
    )
    assert [e.topic for e in seen.events] == [Topic.SESSION_OPENED]  # here: at once
    assert bus.calls == []
    deadline = asyncio.get_running_loop().time() + 5
    while not bus.calls:
        assert asyncio.get_running_loop().time() < deadline, "opened never went out"
        await asyncio.sleep(0.01)
    assert bus.calls == [[Topic.SESSION_OPENED]]
    assert [e.topic for e in seen.events] == [Topic.SESSION_OPENED]  # not shown twice
    rec.close()
    assert [e.topic for e in seen.events] == [Topic.SESSION_OPENED, Topic.SESSION_CLOSED]
