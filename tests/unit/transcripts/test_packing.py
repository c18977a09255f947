"""Quiet transcripts packed (``transcripts/packing.py``, the archive's sweep): a packed
session reads back identical, its next line unpacks it, and only quiet live sessions
are packed, within the sweep's budget."""

from __future__ import annotations

import time

import pytest

from mailserver.events import Event, LocalEventBus, Topic
from mailserver.transcripts import packing
from mailserver.transcripts.archive import PACK_LIMIT, SessionRecord, TranscriptArchive

IDLE_IMAP = [
    (1796550348.047839, "S* OK [CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN] JServer.NetLab ready"),
    (1796550348.071444, "CA1 LOGIN u000 ********\nSA1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in"),
    (
        1796550348.1484897,
        "CA2 SELECT INBOX\nS* FLAGS (\\Answered \\Seen)\nS* 30 EXISTS\n"
        "S* OK [UIDVALIDITY 1796550349] UIDs valid\nSA2 OK [READ-WRITE] Select completed",
    ),
]
ODD = [
    (0.0, ""),
    (1.5, "C\u00e9t\u00e9 \u2603 \U0001f4e7 caf\u00e9\nS\\x00\\x1b[31m\nC"),
    (2.25, "S" + "x" * 70000),
    (3.0, "*surrogate \udcff kept"),
    (1e12 + 0.123456789, "C\t tabs and  spaces \r"),
]


def record_of(batches: list[tuple[float, str]], ident: str = "s1") -> SessionRecord:
    record = SessionRecord(ident, "imap", "imap", "127.0.0.1:40001", False, 1.0)
    for when, text in batches:
        record.add(when, text)
    return record


@pytest.mark.parametrize("batches", [IDLE_IMAP, ODD, IDLE_IMAP * 40])
def test_pack_and_unpack_give_back_every_batch_to_the_bit(
    batches: list[tuple[float, str]],
) -> None:
    flat: list[float | str] = [item for batch in batches for item in batch]
    assert packing.unpack(packing.pack(flat)) == flat


def test_an_idle_imap_session_packs_small() -> None:
    flat: list[float | str] = [item for batch in IDLE_IMAP for item in batch]
    raw = sum(len(str(text)) for text in flat[1::2])
    assert len(packing.pack(flat)) < raw / 3


def test_a_packed_record_reads_back_identical_and_its_next_line_unpacks_it() -> None:
    plain, packed = record_of(IDLE_IMAP), record_of(IDLE_IMAP)
    assert packed.pack()
    assert packed.flat is None and packed.packed
    assert packed.summary()["packed"] and not plain.summary()["packed"]
    assert packed.batches == plain.batches
    assert packed.lines == plain.lines
    assert packed.formatted() == plain.formatted()
    assert packed.text() == plain.text()
    assert packed.to_json() == plain.to_json()
    assert packed.to_json(budget=300) == plain.to_json(budget=300)
    assert packed.flat is None, "reading does not unpack for good"
    for record in (plain, packed):
        record.add(1796550400.5, "CA3 NOOP\nSA3 OK Noop completed")
    assert packed.flat is not None and packed.packed is None
    assert packed.batches == plain.batches
    assert (packed.line_count, packed.octets) == (plain.line_count, plain.octets)
    assert packed.text().count("C: A3 NOOP") == 1


def test_nothing_to_pack_without_lines() -> None:
    record = record_of([])
    assert not record.pack()
    assert record.flat == [] and record.packed is None


def feed(archive: TranscriptArchive, bus: LocalEventBus, session: str, lines: str) -> None:
    bus.publish(Event(Topic.SESSION_LINES, {"session": session, "lines": lines}))


def opened_archive(*sessions: str) -> tuple[TranscriptArchive, LocalEventBus]:
    bus = LocalEventBus()
    archive = TranscriptArchive()
    archive.attach(bus)
    for session in sessions:
        bus.emit(Topic.SESSION_OPENED, session=session, protocol="imap", peer="127.0.0.1:1")
    return archive, bus


def test_the_sweep_packs_quiet_live_sessions_only() -> None:
    archive, bus = opened_archive("quiet", "busy", "closed", "silent")
    feed(archive, bus, "quiet", "S* OK ready")
    feed(archive, bus, "closed", "S* OK ready")
    bus.emit(Topic.SESSION_CLOSED, session="closed")
    start = time.monotonic()
    assert archive.sweep(now=start) == 0, "nothing is quiet yet"
    feed(archive, bus, "busy", "S* OK ready")
    assert archive.sweep(now=time.monotonic() + 1.5, quiet=1.0) == 2
    assert archive.live["quiet"].flat is None and archive.live["busy"].flat is None
    assert archive.live["silent"].flat == [], "no lines: nothing packed"
    assert archive.finished["closed"].flat is not None, "finished sessions are left alone"
    feed(archive, bus, "busy", "CA1 NOOP")
    assert archive.live["busy"].flat is not None, "its next line unpacked it"
    assert archive.sweep(now=time.monotonic()) == 0, "changed just now"
    assert archive.sweep(now=time.monotonic() + 5) == 1
    assert archive.live["busy"].lines[-1][1:] == ("C", "A1 NOOP")
    assert archive.sweep(now=time.monotonic() + 60) == 0, "nothing left to pack"
    assert archive.packed_count == 3


def test_the_sweep_stops_at_its_budget_and_leaves_big_sessions_unpacked() -> None:
    names = [f"s{n}" for n in range(5)]
    archive, bus = opened_archive(*names, "big")
    for name in names:
        feed(archive, bus, name, "S* OK ready")
    feed(archive, bus, "big", "S" + "y" * PACK_LIMIT)
    later = time.monotonic() + 60
    assert archive.sweep(now=later, budget=0.0) == 1, "one pack, then over budget"
    assert archive.sweep(now=later, budget=0.0) == 1
    assert archive.sweep(now=later) == 3
    assert archive.live["big"].flat is not None
    assert [archive.live[name].flat for name in names] == [None] * 5


def test_a_worker_gone_closes_its_packed_sessions_whole() -> None:
    archive, bus = opened_archive()
    bus.publish(Event(Topic.SESSION_OPENED, {"session": "w", "protocol": "imap"}, origin=4242))
    feed(archive, bus, "w", "S* OK ready")
    assert archive.sweep(now=time.monotonic() + 60) == 1
    bus.emit(Topic.CONTROL, action="worker.gone", pid=4242)
    record = archive.finished["w"]
    assert [line[1:] for line in record.lines] == [
        ("S", "* OK ready"),
        ("*", "connection lost: its worker process ended"),
    ]
