"""The queue directory: durable entries, per-entry locks, what counts as due."""

from __future__ import annotations

from pathlib import Path

from mailserver.relay.queue import BOUNCED, Entry, QueueStore, RecipientState, new_queue_id


def test_enqueue_load_save_remove(tmp_path: Path) -> None:
    store = QueueStore(tmp_path / "queue")
    entry = Entry(id=new_queue_id(), sender="a@x", recipients=[RecipientState("b@y")])
    store.enqueue(entry, b"Subject: s\r\n\r\nbody\r\n")
    assert store.ids() == [entry.id]
    loaded = store.load(entry.id)
    assert loaded is not None and loaded.size == 20 and loaded.next_due() == 0.0
    loaded.recipients[0].state = BOUNCED
    store.save(loaded)
    # A bounce not yet reported keeps the entry due (a crash before its notice).
    again = store.load(entry.id)
    assert again is not None and again.next_due() == 0.0 and not again.finished
    again.recipients[0].reported = True
    assert again.next_due() is None and again.finished
    store.remove(entry.id)
    assert store.ids() == [] and list((tmp_path / "queue").glob("*.msg")) == []


def test_enqueue_copies_a_spooled_body_from_its_file(tmp_path: Path) -> None:
    """SMTP DATA streams to a spool file: the queue's message is our header in
    memory followed by the file from the body offset on, copied in chunks."""
    spooled = tmp_path / "in.tmp"
    body = b"line of text\r\n" * 200_000  # ~2.8 MB: several copy chunks
    spooled.write_bytes(b"Subject: as received\r\n\r\n" + body)
    store = QueueStore(tmp_path / "queue")
    entry = Entry(id=new_queue_id(), sender="a@x", recipients=[RecipientState("b@y")])
    head = b"Received: by us\r\nSubject: as received\r\n\r\n"
    store.enqueue(entry, head, spooled, offset=len(b"Subject: as received\r\n\r\n"))
    assert store.read_message(entry.id) == head + body
    loaded = store.load(entry.id)
    assert loaded is not None and loaded.size == len(head) + len(body)
    assert [p.name for p in (tmp_path / "queue").iterdir() if p.name.startswith(".")] == []


def test_an_entry_is_locked_by_one_holder_at_a_time(tmp_path: Path) -> None:
    store = QueueStore(tmp_path / "queue")
    entry = Entry(id=new_queue_id(), sender="", recipients=[RecipientState("b@y")])
    store.enqueue(entry, b"x\r\n")
    with store.lock_entry(entry.id) as first:
        assert first
        with store.lock_entry(entry.id) as second:
            assert not second  # flock is per open file: a second holder is refused
    with store.lock_entry(entry.id) as third:
        assert third
    with store.lock_entry("FFFFFFFFFFFF") as missing:
        assert not missing
