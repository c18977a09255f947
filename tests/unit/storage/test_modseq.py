"""RFC 7162 mod-sequences kept by the maildir store: monotonic across every kind of change,
restarts, other processes, other programs and damaged journals."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mailserver.storage import DELETED, FLAGGED, INBOX, SEEN, FlagMode, MessageInfo
from mailserver.storage.maildir import MaildirFolder, MaildirStore, modseq

MSG = b"Subject: m\r\n\r\nbody\r\n"


async def open_inbox(root: Path) -> MaildirFolder:
    """A fresh store object: what a restarted server (or another process) sees."""
    return await (await MaildirStore(root).mailbox("alice")).folder(INBOX)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
async def inbox(root: Path) -> MaildirFolder:
    return await open_inbox(root)


async def modseqs(folder: MaildirFolder) -> dict[int, int]:
    return {m.uid: m.modseq for m in (await folder.snapshot()).messages}


def journal(folder: MaildirFolder) -> Path:
    return folder.path / modseq.FILE_NAME


def test_message_info_positional_construction_still_works() -> None:
    info = MessageInfo(1, 10, frozenset(), 0.0, "key")
    assert info.modseq == 0


async def test_new_folder_counts_from_one(inbox: MaildirFolder) -> None:
    assert (await inbox.snapshot()).highest_modseq == 1
    first = await inbox.append(MSG)
    second = await inbox.append(MSG, flags=[SEEN])
    snap = await inbox.snapshot()
    assert [m.modseq for m in snap.messages] == [2, 3]
    assert snap.highest_modseq == 3
    assert (snap.find(first), snap.find(second)) != (None, None)


async def test_every_change_raises_modseq_and_noop_does_not(inbox: MaildirFolder) -> None:
    a, b, c = [await inbox.append(MSG) for _ in range(3)]
    before = await inbox.snapshot()
    await inbox.store_flags([b], [SEEN], FlagMode.ADD)
    after = await inbox.snapshot()
    assert after.find(b).modseq == before.highest_modseq + 1  # type: ignore[union-attr]
    assert after.find(a).modseq == before.find(a).modseq  # type: ignore[union-attr]
    assert after.highest_modseq == before.highest_modseq + 1
    # Setting a flag the message already has is no change.
    await inbox.store_flags([b], [SEEN], FlagMode.ADD)
    assert (await inbox.snapshot()).highest_modseq == after.highest_modseq
    # Claiming \Recent moves new/ -> cur/ but changes no flags.
    await inbox.snapshot(claim_recent=True)
    assert await modseqs(inbox) == {m.uid: m.modseq for m in after.messages}
    await inbox.store_flags([c], [DELETED], FlagMode.ADD)
    pre_expunge = (await inbox.snapshot()).highest_modseq
    assert await inbox.expunge() == [c]
    snap = await inbox.snapshot()
    assert snap.highest_modseq == pre_expunge + 1
    assert max(m.modseq for m in snap.messages) < snap.highest_modseq


async def test_modseqs_survive_restart_and_keep_growing(root: Path, inbox: MaildirFolder) -> None:
    uids = [await inbox.append(MSG) for _ in range(4)]
    await inbox.store_flags(uids[:2], [FLAGGED], FlagMode.ADD)
    await inbox.expunge([uids[3]])
    before = await inbox.snapshot()
    restarted = await open_inbox(root)
    after = await restarted.snapshot()
    assert after.highest_modseq == before.highest_modseq
    assert after.messages == before.messages
    await restarted.store_flags([uids[2]], [SEEN], FlagMode.ADD)
    assert (await restarted.snapshot()).find(uids[2]).modseq > before.highest_modseq  # type: ignore[union-attr]
    assert await restarted.expunged_since(before.highest_modseq - 1) == [uids[3]]


async def test_external_rename_gets_a_new_modseq(root: Path, inbox: MaildirFolder) -> None:
    uid = await inbox.append(MSG)
    other = await inbox.append(MSG)
    before = await inbox.snapshot(claim_recent=True)
    (name,) = [n for n in os.listdir(inbox.path / "cur") if n.startswith(before.find(uid).key)]  # type: ignore[union-attr]
    os.rename(inbox.path / "cur" / name, inbox.path / "cur" / (name + "RS"))  # like mutt
    after = await inbox.snapshot()
    info = after.find(uid)
    assert info is not None and info.flags == {SEEN, "\\Answered"}
    assert info.modseq == before.highest_modseq + 1 == after.highest_modseq
    assert after.find(other) == before.find(other)
    # Another server process agrees and does not count the change twice.
    assert (await (await open_inbox(root)).snapshot()).highest_modseq == after.highest_modseq


async def test_change_made_while_server_was_down(root: Path, inbox: MaildirFolder) -> None:
    uid = await inbox.append(MSG, flags=[SEEN])
    before = await inbox.snapshot()
    (name,) = os.listdir(inbox.path / "cur")
    os.rename(inbox.path / "cur" / name, inbox.path / "cur" / name.replace(":2,S", ":2,ST"))
    after = await (await open_inbox(root)).snapshot()
    assert after.find(uid).modseq > before.highest_modseq  # type: ignore[union-attr]


async def test_other_process_changes_are_seen_in_order(root: Path, inbox: MaildirFolder) -> None:
    uid = await inbox.append(MSG)
    other = await open_inbox(root)
    await other.store_flags([uid], [SEEN], FlagMode.ADD)
    seen = (await inbox.snapshot()).find(uid)
    assert seen is not None and seen.flags == {SEEN}
    await inbox.store_flags([uid], [SEEN], FlagMode.REMOVE)
    mine = (await other.snapshot()).find(uid)
    assert mine is not None and mine.flags == frozenset()
    assert mine.modseq == seen.modseq + 1


async def test_external_delete_is_an_expunge(inbox: MaildirFolder) -> None:
    keep = await inbox.append(MSG)
    gone = await inbox.append(MSG)
    before = await inbox.snapshot()
    (name,) = [n for n in os.listdir(inbox.path / "new") if n.startswith(before.find(gone).key)]  # type: ignore[union-attr]
    os.unlink(inbox.path / "new" / name)
    after = await inbox.snapshot()
    assert after.uids == [keep]
    assert after.highest_modseq == before.highest_modseq + 1
    assert await inbox.expunged_since(before.highest_modseq) == [gone]
    assert await inbox.expunged_since(after.highest_modseq) == []


async def test_expunged_since(inbox: MaildirFolder) -> None:
    uids = [await inbox.append(MSG) for _ in range(5)]
    start = (await inbox.snapshot()).highest_modseq
    await inbox.expunge([uids[0], uids[3]])
    middle = (await inbox.snapshot()).highest_modseq
    await inbox.expunge([uids[1]])
    assert await inbox.expunged_since(start) == [uids[0], uids[1], uids[3]]
    assert await inbox.expunged_since(middle) == [uids[1]]
    assert await inbox.expunged_since(0) == [uids[0], uids[1], uids[3]]  # complete from birth


async def test_expunge_history_is_bounded(
    inbox: MaildirFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(modseq, "EXPUNGE_HISTORY", 3)
    uids = [await inbox.append(MSG) for _ in range(6)]
    start = (await inbox.snapshot()).highest_modseq
    for uid in uids[:5]:
        await inbox.expunge([uid])
    recent = start + 2  # after the second expunge
    assert await inbox.expunged_since(recent) == uids[2:5]
    assert await inbox.expunged_since(start) is None  # the first two are forgotten


async def test_conditional_store(inbox: MaildirFolder) -> None:
    a, b, c = [await inbox.append(MSG) for _ in range(3)]
    snap = await inbox.snapshot()
    await inbox.store_flags([b], [FLAGGED], FlagMode.ADD)  # b changes behind the client's back
    modified, failed = await inbox.store_flags_conditional(
        [a, b, c, 99], [SEEN], FlagMode.ADD, snap.highest_modseq
    )
    assert modified == {a: frozenset({SEEN}), c: frozenset({SEEN})}
    assert failed == [b]
    after = await inbox.snapshot()
    assert after.find(b).flags == {FLAGGED}  # type: ignore[union-attr]
    # The keyword form reports only what it changed.
    result = await inbox.store_flags([a, b], [DELETED], FlagMode.ADD, unchanged_since=0)
    assert result == {}
    result = await inbox.store_flags(
        [a, b],
        [DELETED],
        FlagMode.ADD,
        unchanged_since=after.find(b).modseq,  # type: ignore[union-attr]
    )
    assert set(result) == {b}


async def test_lost_journal_record_never_lowers_a_modseq(root: Path, inbox: MaildirFolder) -> None:
    """A crash after a rename but before its journal record was durable."""
    uid = await inbox.append(MSG)
    saved = journal(inbox).read_bytes()
    before = await inbox.snapshot()
    await inbox.store_flags([uid], [SEEN], FlagMode.ADD)
    journal(inbox).write_bytes(saved)
    after = await (await open_inbox(root)).snapshot()
    assert after.find(uid).modseq > before.highest_modseq  # type: ignore[union-attr]
    assert after.find(uid).flags == {SEEN}  # type: ignore[union-attr]


@pytest.mark.parametrize("damage", ["garbage", "missing", "empty", "bad record"])
async def test_damaged_journal_starts_a_higher_space(
    root: Path, inbox: MaildirFolder, damage: str
) -> None:
    uids = [await inbox.append(MSG) for _ in range(3)]
    await inbox.expunge([uids[0]])
    before = await inbox.snapshot()
    path = journal(inbox)
    if damage == "garbage":
        path.write_bytes(b"\x00\xffnot a journal\n")
    elif damage == "missing":
        path.unlink()
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        with path.open("ab") as handle:
            handle.write(b"m 2 oops :S\n")
    restarted = await open_inbox(root)
    after = await restarted.snapshot()
    assert after.uidvalidity == before.uidvalidity  # UIDs stay valid
    assert after.highest_modseq > before.highest_modseq
    assert all(m.modseq > before.highest_modseq for m in after.messages)
    assert await restarted.expunged_since(before.highest_modseq) is None
    await restarted.store_flags([uids[1]], [SEEN], FlagMode.ADD)
    assert (await restarted.snapshot()).highest_modseq > after.highest_modseq
    # The rewritten journal is sound: yet another restart agrees.
    again = await (await open_inbox(root)).snapshot()
    assert again.highest_modseq == (await restarted.snapshot()).highest_modseq


async def test_torn_last_record_is_ignored_then_rewritten(root: Path, inbox: MaildirFolder) -> None:
    uid = await inbox.append(MSG)
    before = await inbox.snapshot()
    with journal(inbox).open("ab") as handle:
        handle.write(b"m 1 99")  # a crash in the middle of an append
    restarted = await open_inbox(root)
    assert (await restarted.snapshot()).highest_modseq == before.highest_modseq
    await restarted.store_flags([uid], [SEEN], FlagMode.ADD)
    assert journal(inbox).read_bytes().endswith(b"\n")
    assert b"m 1 99\n" not in journal(inbox).read_bytes()
    assert (await (await open_inbox(root)).snapshot()).highest_modseq == before.highest_modseq + 1


async def test_new_uidvalidity_gets_its_own_space(root: Path, inbox: MaildirFolder) -> None:
    await inbox.append(MSG)
    before = await inbox.snapshot()
    (inbox.path / "dovecot-uidlist").unlink()
    after = await (await open_inbox(root)).snapshot()
    assert after.uidvalidity > before.uidvalidity
    assert after.messages[0].modseq > 0


async def test_journal_is_compacted(
    root: Path, inbox: MaildirFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(modseq, "COMPACT_SLACK", 10)
    uid = await inbox.append(MSG)
    for _ in range(30):
        await inbox.store_flags([uid], [SEEN], FlagMode.ADD)
        await inbox.store_flags([uid], [SEEN], FlagMode.REMOVE)
    lines = journal(inbox).read_text().splitlines()
    assert len(lines) < 20
    snap = await inbox.snapshot()
    assert snap.highest_modseq == 62
    assert (await (await open_inbox(root)).snapshot()).messages == snap.messages


async def test_rename_inbox_expunges_there_and_numbers_anew(inbox: MaildirFolder) -> None:
    mailbox = await MaildirStore(inbox.path.parent).mailbox("alice")
    uid = await inbox.append(MSG)
    before = await inbox.snapshot()
    await mailbox.rename_folder(INBOX, "Old")
    assert await inbox.expunged_since(before.highest_modseq) == [uid]
    old = await (await mailbox.folder("Old")).snapshot()
    assert old.messages[0].modseq >= 1


async def test_copied_maildir_without_journal(tmp_path: Path, inbox: MaildirFolder) -> None:
    """A maildir from Dovecot or an older version of this server has no journal."""
    await inbox.append(MSG)
    copy = tmp_path / "copy"
    shutil.copytree(inbox.path, copy / "alice")
    (copy / "alice" / modseq.FILE_NAME).unlink()
    snap = await (await (await MaildirStore(copy).mailbox("alice")).folder(INBOX)).snapshot()
    assert snap.messages[0].modseq > 1
    assert snap.highest_modseq >= snap.messages[0].modseq
