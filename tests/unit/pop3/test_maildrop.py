"""Message numbering, deletion marks and unique ids of the session's snapshot."""

from __future__ import annotations

from typing import cast

import pytest

from mailserver.pop3.errors import Pop3Error
from mailserver.pop3.maildrop import Maildrop, uidl_of
from mailserver.storage import Folder, MessageInfo, Snapshot


def info(uid: int, size: int) -> MessageInfo:
    return MessageInfo(uid=uid, size=size, flags=frozenset(), internal_date=0.0, key=f"k{uid}")


def make(*sizes: int) -> Maildrop:
    messages = tuple(info(uid, size) for uid, size in zip((3, 7, 8, 20), sizes, strict=False))
    snapshot = Snapshot(uidvalidity=1234, uidnext=21, messages=messages)
    # Maildrop only keeps the folder to hand it to handlers; no call is made here.
    return Maildrop(cast(Folder, object()), snapshot)


def test_numbers_are_one_based_in_uid_order() -> None:
    drop = make(100, 200, 300)
    assert drop.count == 3
    assert drop.size == 600
    assert [(n, i.uid) for n, i in drop.numbered()] == [(1, 3), (2, 7), (3, 8)]


def test_deleted_messages_leave_counts_but_keep_numbers() -> None:
    drop = make(100, 200, 300)
    drop.mark_deleted(2)
    assert (drop.count, drop.size) == (2, 400)
    assert [n for n, _ in drop.numbered()] == [1, 3]
    assert drop.get(3).uid == 8
    assert drop.deleted_uids() == [7]
    with pytest.raises(Pop3Error, match="already deleted"):
        drop.get(2)
    with pytest.raises(Pop3Error, match="already deleted"):
        drop.mark_deleted(2)
    drop.reset()
    assert (drop.count, drop.size) == (3, 600)
    assert drop.deleted_uids() == []


@pytest.mark.parametrize("number", [0, 4, 99999])
def test_out_of_range(number: int) -> None:
    with pytest.raises(Pop3Error, match="no such message, only 3 messages"):
        make(1, 2, 3).get(number)


def test_empty_maildrop() -> None:
    drop = make()
    assert (drop.count, drop.size) == (0, 0)
    with pytest.raises(Pop3Error, match="maildrop is empty"):
        drop.get(1)


def test_uidl_is_printable_short_and_unique() -> None:
    drop = make(1, 2, 3, 4)
    ids = [drop.uidl(i) for _, i in drop.numbered()]
    assert ids == ["1234.3", "1234.7", "1234.8", "1234.20"]
    assert len(set(ids)) == 4
    for uid in ids:
        assert len(uid) <= 70
        assert all(0x21 <= ord(c) <= 0x7E for c in uid)
    assert uidl_of(4294967295, info(4294967295, 1)) == "4294967295.4294967295"
