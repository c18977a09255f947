"""The ``mailserver-modseq`` journal format, without any I/O."""

from __future__ import annotations

import pytest

from mailserver.storage.maildir import modseq
from mailserver.storage.maildir.modseq import ModseqError, ModseqLog, salvage_highest


def test_round_trip_and_incremental_feed() -> None:
    log = ModseqLog(1234, highest=1, floor=0)
    text = log.serialize()
    lines = [log.touch(1, "S"), log.touch(2, ""), log.touch(1, "RS"), log.expunge([2])]
    data = (text + "".join(lines)).encode()
    parsed, consumed = ModseqLog.parse(data)
    assert consumed == len(data)
    assert parsed.highest == log.highest == 5
    assert parsed.messages == {1: (4, "RS")}
    assert parsed.expunged_since(0) == [2]
    assert parsed.expunged_since(5) == []
    compact, _ = ModseqLog.parse(parsed.serialize().encode())
    assert (compact.messages, list(compact.expunged), compact.highest) == (
        parsed.messages,
        list(parsed.expunged),
        parsed.highest,
    )


def test_letters_are_normalized() -> None:
    log = ModseqLog(1)
    assert log.touch(7, "SRS") == "m 7 2 :RS\n"


def test_torn_tail_is_not_consumed() -> None:
    log = ModseqLog(1)
    head = log.serialize().encode()
    parsed, consumed = ModseqLog.parse(head + b"m 1 2 :S\nm 1 3")
    assert consumed == len(head) + len(b"m 1 2 :S\n")
    assert parsed.highest == 2


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"2 V1 H1 F0 Gx\n",
        b"1 V1 H1 Gx\n",
        b"1 V0 H1 F0 Gx\n",
        b"1 V1 H1 F0 Gx\nm 1 x :S\n",
        b"1 V1 H1 F0 Gx\nm 1 2 S\n",
        b"1 V1 H1 F0 Gx\nx 5\n",
        b"1 V1 H1 F0 Gx\nq 1 2\n",
    ],
)
def test_corrupt_journals_are_rejected(data: bytes) -> None:
    with pytest.raises(ModseqError):
        ModseqLog.parse(data)


def test_error_reports_highest_read_so_far() -> None:
    with pytest.raises(ModseqError) as info:
        ModseqLog.parse(b"1 V1 H3 F0 Gx\nm 1 40 :S\nbroken\n")
    assert info.value.highest == 40


def test_expunge_history_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(modseq, "EXPUNGE_HISTORY", 2)
    log = ModseqLog(1, highest=10, floor=10)
    assert log.expunged_since(9) is None
    log.expunge([1, 2])  # 11
    log.expunge([3])  # 12: uid 1 forgotten
    assert log.floor == 11
    assert log.expunged_since(11) == [3]
    assert log.expunged_since(10) is None


def test_salvage_highest() -> None:
    assert salvage_highest(b"1 V99999 H7 F0 G123456789\nm 3 12 :S\nx 15 4 5\n\x00junk 1000") == 15
    assert salvage_highest(b"") == 0
