"""An SMTP session only the archive listens to keeps its bytes and is cut when read.

``recorder.py``, "Deferred cutting": the lines come out as they would have
been cut as they came (the same text; batches by their own times), when the
record is read, when a listener that reads live appears, or past
``DEFER_OCTETS``.
"""

from __future__ import annotations

import logging

from mailserver.config.model import TranscriptSettings
from mailserver.events import Event, LocalEventBus, Topic
from mailserver.transcripts import SessionRecorder
from mailserver.transcripts import recorder as recorder_module
from mailserver.transcripts.archive import TranscriptArchive
from mailserver.transcripts.recorder import DEFER_OCTETS, cut_deferred
from mailserver.transcripts.rules import MASK

log = logging.getLogger("test.transcripts")

SERVER = [
    b"220 JServer.NetLab ESMTP ready\r\n",
    b"250-JServer.NetLab\r\n250-AUTH PLAIN LOGIN\r\n250 SMTPUTF8\r\n",
    b"334 VXNlcm5hbWU6\r\n",
    b"235 2.7.0 Authentication successful\r\n",
    b"250 2.1.0 OK\r\n",
    b"354 End data with <CR><LF>.<CR><LF>\r\n",
    b"250 2.0.0 OK queued\r\n",
    b"221 2.0.0 Bye\r\n",
]
CLIENT = [
    b"EHLO pc1.NetLab\r\n",
    b"AUTH LOGIN\r\n",
    b"Z3JvdXAxXzE=\r\n",
    b"MAIL FROM:<group1_1@NetLab>\r\n",
    b"DATA\r\n",
    b"Subject: hi\r\n\r\n" + b"".join(b"line %d\r\n" % n for n in range(20)) + b".\r\n",
    b"QUIT\r\n",
]


def archived() -> tuple[LocalEventBus, TranscriptArchive]:
    """A bus with only the worker's archive on it (listening quietly, as in a server)."""
    bus = LocalEventBus()
    archive = TranscriptArchive()
    archive.attach(bus)
    return bus, archive


def started(bus: LocalEventBus, protocol: str = "smtp") -> SessionRecorder:
    """A session begun on ``bus``: the server's greeting sent."""
    recorder = SessionRecorder(
        bus, TranscriptSettings(), protocol, "192.0.2.7", 2525, tls=False, log=log, where="t"
    )
    recorder.server(SERVER[0])
    return recorder


def session(bus: LocalEventBus, protocol: str = "smtp", close: bool = True) -> SessionRecorder:
    """The SMTP dialogue above, recorded on ``bus``."""
    recorder = started(bus, protocol)
    for client, server in zip(CLIENT, SERVER[1:], strict=True):
        recorder.client(client)
        recorder.server(server)
    if close:
        recorder.close()
    return recorder


def cut_as_they_came() -> list[tuple[str, str]]:
    """The dialogue's lines with a live listener (a console): cut as they come."""
    bus, archive = archived()
    bus.subscribe(Topic.SESSION_LINES, lambda event: None)
    record = archive.get(session(bus).id)
    assert record is not None and record.pending is None
    return [(direction, text) for _, direction, text in record.lines]


def test_an_unread_session_keeps_its_bytes_and_is_cut_the_same_when_read() -> None:
    bus, archive = archived()
    heard: list[str] = []
    bus.subscribe(Topic.SESSION_LINES, lambda e: heard.append(e.topic), announce=False)
    recorder = session(bus)
    record = archive.get(recorder.id)
    assert record is not None and record.ended is not None
    assert record.pending is not None and record.flat == [] and not heard  # nothing cut
    raw = sum(len(part) for part in (*SERVER, *CLIENT))
    assert record.octets == raw  # counted against keep_mb at its raw size
    lines = [(direction, text) for _, direction, text in record.lines]
    assert lines == cut_as_they_came()
    assert ("C", "Z3JvdXAxXzE=") not in lines and ("C", MASK) in lines  # masked as ever
    assert ("C", "line 5") in lines and ("C", "line 6") not in lines  # body_lines: 8
    assert record.pending is None and record.line_count == len(lines)
    assert record.octets == raw  # the archive's sum counted that, and stays right
    # One batch: every call came within FLUSH_DELAY, stamped with the first line's time.
    assert len(record.batches) == 1 and record.batches[0][0] <= record.ended


def test_a_live_session_is_cut_when_its_record_is_read_and_then_as_it_comes() -> None:
    bus, archive = archived()
    recorder = started(bus)
    recorder.client(CLIENT[0])
    record = archive.get(recorder.id)
    assert record is not None and record.flat == []
    assert [text for _, _, text in record.lines] == [
        "220 JServer.NetLab ESMTP ready",
        "EHLO pc1.NetLab",
    ]
    recorder.server(SERVER[1])  # no loop in this test: published at once
    assert [text for _, _, text in record.lines][-1] == "250 SMTPUTF8"
    recorder.close()
    assert record.pending is None


def test_a_listener_that_reads_live_ends_the_deferring_at_the_next_bytes() -> None:
    bus, _archive = archived()
    recorder = started(bus)
    console: list[Event] = []
    bus.subscribe(Topic.SESSION_LINES, console.append)  # a console page opens
    assert not console
    recorder.client(CLIENT[0])
    assert [event.data["lines"] for event in console] == [
        "S220 JServer.NetLab ESMTP ready\nCEHLO pc1.NetLab"
    ]
    recorder.close()


def test_gather_and_sync_answers_cut_this_workers_live_sessions() -> None:
    """``cut_deferred`` (which the archive's ``gather`` and its answers call) cuts
    every live deferred session of this process at once."""
    bus, archive = archived()
    live = session(bus, close=False)
    assert archive.live[live.id].flat == []
    cut_deferred()
    assert archive.live[live.id].flat and archive.live[live.id].pending is None
    live.close()


def test_a_big_session_is_cut_as_it_comes_and_imap_never_defers() -> None:
    bus, archive = archived()
    big = started(bus)
    big.client(b"DATA\r\n")
    big.server(SERVER[5])
    big.client(b"x" * 100 + b"\r\n")
    assert big.id in recorder_module._deferring
    big.client(b"y" * DEFER_OCTETS + b"\r\n")
    assert big.id not in recorder_module._deferring
    assert archive.live[big.id].flat  # cut, without anybody reading
    big.close()
    imap = session(bus, protocol="imap", close=False)
    assert imap.id not in recorder_module._deferring
    imap.close()


def test_nothing_is_kept_when_nobody_listens_to_lines() -> None:
    bus = LocalEventBus()
    archive = TranscriptArchive(keep_sessions=0)
    recorder = session(bus, close=False)
    assert recorder.id not in recorder_module._deferring
    recorder.close()
    assert not archive.live
