"""Selected-mailbox bookkeeping: sequence numbers, deferred EXPUNGE, change reports.

The folder here is a tiny in-memory fake of the store API, enough to drive
the view; the real store is exercised by the dialogue and integration tests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pytest

from mailserver.imap.errors import ImapError
from mailserver.imap.parser.sequence import sequence_set_from
from mailserver.imap.sequences import resolve_uids
from mailserver.imap.view import SelectedView
from mailserver.storage import ChangeListener, FlagMode, Folder, MessageInfo, Snapshot


class FakeFolder(Folder):
    def __init__(self) -> None:
        self.name = "INBOX"
        self.messages: dict[int, MessageInfo] = {}
        self.next_uid = 1
        self.version = 1
        self.unclaimed: set[int] = set()
        self.listeners: list[ChangeListener] = []

    def add(self, count: int = 1, flags: Iterable[str] = ()) -> None:
        for _ in range(count):
            uid = self.next_uid
            self.next_uid += 1
            self.messages[uid] = MessageInfo(uid, 100, frozenset(flags), 0.0, f"k{uid}")
            self.unclaimed.add(uid)
        self.changed()

    def changed(self) -> None:
        self.version += 1
        for listener in self.listeners:
            listener()

    async def snapshot(self, claim_recent: bool = False) -> Snapshot:
        recent = frozenset(self.unclaimed) if claim_recent else frozenset()
        if claim_recent:
            self.unclaimed.clear()
        messages = tuple(self.messages[uid] for uid in sorted(self.messages))
        return Snapshot(7, self.next_uid, messages, recent, self.version)

    async def read(self, uid: int) -> bytes:
        raise NotImplementedError

    async def append(
        self, data: bytes, flags: Iterable[str] = (), internal_date: float | None = None
    ) -> int:
        raise NotImplementedError

    async def store_flags(
        self, uids: Iterable[int], flags: Iterable[str], mode: FlagMode
    ) -> dict[int, frozenset[str]]:
        out = {}
        for uid in uids:
            info = self.messages[uid]
            self.messages[uid] = dataclasses.replace(info, flags=frozenset(flags))
            out[uid] = frozenset(flags)
        self.changed()
        return out

    async def expunge(self, uids: Iterable[int] | None = None) -> list[int]:
        gone = [uid for uid in (uids or []) if self.messages.pop(uid, None)]
        self.changed()
        return gone

    async def copy_to(self, uids: Iterable[int], target: Folder) -> dict[int, int]:
        raise NotImplementedError

    def add_listener(self, listener: ChangeListener) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        self.listeners.remove(listener)


async def open_view(folder: FakeFolder, readonly: bool = False) -> SelectedView:
    return SelectedView(folder, readonly, await folder.snapshot(claim_recent=not readonly))


async def test_new_mail_is_reported_once_with_recent() -> None:
    folder = FakeFolder()
    folder.add(2)
    view = await open_view(folder)
    assert view.exists == 2 and view.recent == {1, 2}
    assert await view.refresh(allow_expunge=True) == []
    folder.add(1)
    assert view.changed_event.is_set()
    assert await view.refresh(allow_expunge=True) == [b"* 3 EXISTS\r\n", b"* 3 RECENT\r\n"]
    assert await view.refresh(allow_expunge=True) == []


async def test_read_only_view_claims_nothing() -> None:
    folder = FakeFolder()
    folder.add(1)
    view = await open_view(folder, readonly=True)
    folder.add(1)
    assert await view.refresh(allow_expunge=True) == [b"* 2 EXISTS\r\n", b"* 0 RECENT\r\n"]
    assert folder.unclaimed == {1, 2}


async def test_expunge_is_deferred_and_renumbers() -> None:
    folder = FakeFolder()
    folder.add(5)
    view = await open_view(folder)
    await folder.expunge([2, 4])
    # During FETCH/STORE/SEARCH nothing is said and numbering stays.
    assert await view.refresh(allow_expunge=False) == []
    assert view.uids == [1, 2, 3, 4, 5] and view.ghosts
    assert view.info(2) is None and view.seq_of(3) == 3
    # Later: message 2 goes, then the old 4 (now 3).
    assert await view.refresh(allow_expunge=True) == [b"* 2 EXPUNGE\r\n", b"* 3 EXPUNGE\r\n"]
    assert view.uids == [1, 3, 5] and view.seq_of(5) == 3 and not view.ghosts


async def test_flag_changes_of_others_are_reported_but_own_are_not() -> None:
    folder = FakeFolder()
    folder.add(2)
    view = await open_view(folder)
    await folder.store_flags([1], ["\\Seen"], FlagMode.REPLACE)
    assert await view.refresh(allow_expunge=False) == [b"* 1 FETCH (FLAGS (\\Seen \\Recent))\r\n"]
    result = await folder.store_flags([2], ["\\Flagged"], FlagMode.REPLACE)
    view.note_flags(2, result[2])
    assert await view.refresh(allow_expunge=False) == []


async def test_sequence_resolution() -> None:
    folder = FakeFolder()
    folder.add(3)
    await folder.expunge([2])
    folder.add(1)  # UIDs 1, 3, 4
    view = await open_view(folder)
    assert resolve_uids(view, sequence_set_from("2:*"), uid=False) == [3, 4]
    assert resolve_uids(view, sequence_set_from("*:1"), uid=False) == [1, 3, 4]
    assert resolve_uids(view, sequence_set_from("2"), uid=True) == []
    assert resolve_uids(view, sequence_set_from("2:3"), uid=True) == [3]
    assert resolve_uids(view, sequence_set_from("100:*"), uid=True) == [4]
    with pytest.raises(ImapError):
        resolve_uids(view, sequence_set_from("4"), uid=False)


async def test_star_in_an_empty_mailbox_names_nothing() -> None:
    view = await open_view(FakeFolder())
    assert resolve_uids(view, sequence_set_from("1:*"), uid=False) == []
    assert resolve_uids(view, sequence_set_from("1:*"), uid=True) == []
    assert view.first_unseen() is None


async def test_view_shares_the_snapshots_uid_list_while_nothing_differs() -> None:
    """An idle session on a big folder must not hold its own copy of the UIDs."""
    folder = FakeFolder()
    folder.add(6)
    view = await open_view(folder)
    assert view.uids is view.snapshot.uids
    await folder.expunge([2, 3, 6])
    assert await view.refresh(allow_expunge=False) == []
    assert view.uids == [1, 2, 3, 4, 5, 6], "numbering kept while expunges are deferred"
    assert await view.refresh(allow_expunge=True) == [
        b"* 2 EXPUNGE\r\n",
        b"* 2 EXPUNGE\r\n",
        b"* 4 EXPUNGE\r\n",
    ]
    assert view.uids == [1, 4, 5] and view.uids is view.snapshot.uids
    folder.add(1)
    assert await view.refresh(allow_expunge=True) == [b"* 4 EXISTS\r\n", b"* 4 RECENT\r\n"]
    assert view.uids == [1, 4, 5, 7] and view.uids is view.snapshot.uids


async def test_new_mail_with_flags_is_not_reported_as_a_flag_change() -> None:
    folder = FakeFolder()
    folder.add(1)
    view = await open_view(folder)
    folder.add(1, flags=["\\Seen"])
    assert await view.refresh(allow_expunge=True) == [b"* 2 EXISTS\r\n", b"* 2 RECENT\r\n"]
    assert view.reported_flags(2) == ["\\Seen", "\\Recent"]
    await folder.store_flags([2], ["\\Flagged"], FlagMode.REPLACE)
    assert await view.refresh(allow_expunge=True) == [b"* 2 FETCH (FLAGS (\\Flagged \\Recent))\r\n"]


async def test_flags_a_fetch_reported_are_not_reported_again() -> None:
    folder = FakeFolder()
    folder.add(3)
    view = await open_view(folder)
    result = await folder.store_flags([1, 3], ["\\Seen"], FlagMode.REPLACE)
    view.note_flags(1, result[1])  # this session's FETCH told the client about 1 only
    assert await view.refresh(allow_expunge=True) == [b"* 3 FETCH (FLAGS (\\Seen \\Recent))\r\n"]
    view.note_flags(1, frozenset())  # a stale report: the client is told the truth again
    assert await view.refresh(allow_expunge=True) == []
    folder.changed()
    assert await view.refresh(allow_expunge=True) == [b"* 1 FETCH (FLAGS (\\Seen \\Recent))\r\n"]
