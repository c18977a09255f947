"""Behaviour of the maildir store through its public API, checked against the disk."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from mailserver.storage import (
    DELETED,
    FLAGGED,
    INBOX,
    SEEN,
    ErrorKind,
    FlagMode,
    StorageError,
)
from mailserver.storage.maildir import MaildirFolder, MaildirMailbox, MaildirStore

MSG = b"From: a@example.org\r\nSubject: hi\r\n\r\nline one\r\n.\r\n..dots\r\nend\r\n"


@pytest.fixture
def store(tmp_path: Path) -> MaildirStore:
    return MaildirStore(tmp_path / "mail")


@pytest.fixture
async def mailbox(store: MaildirStore) -> MaildirMailbox:
    return await store.mailbox("alice")


@pytest.fixture
async def inbox(mailbox: MaildirMailbox) -> MaildirFolder:
    return await mailbox.folder(INBOX)


def files_in(folder: MaildirFolder, sub: str) -> list[str]:
    return sorted(os.listdir(folder.path / sub))


# ---------------------------------------------------------------- layout


async def test_mailbox_creates_inbox_layout(store: MaildirStore, tmp_path: Path) -> None:
    await store.mailbox("alice")
    root = tmp_path / "mail" / "alice"
    for sub in ("cur", "new", "tmp"):
        assert (root / sub).is_dir()
    assert (root / "dovecot-uidlist").read_text().startswith("3 V")
    assert not (root / "maildirfolder").exists()


async def test_folder_objects_are_shared(mailbox: MaildirMailbox, store: MaildirStore) -> None:
    first = await mailbox.folder("INBOX")
    assert await mailbox.folder("inbox") is first
    assert await (await store.mailbox("alice")).folder("InBoX") is first


@pytest.mark.parametrize("user", ["", "../x", "a/b", ".hidden", "a..b", "a\x00b"])
async def test_invalid_user_names(store: MaildirStore, user: str) -> None:
    with pytest.raises(StorageError) as info:
        await store.mailbox(user)
    assert info.value.kind is ErrorKind.INVALID_NAME


async def test_delete_mailbox(store: MaildirStore, tmp_path: Path) -> None:
    mailbox = await store.mailbox("bob")
    folder = await mailbox.folder(INBOX)
    await folder.append(MSG)
    await store.delete_mailbox("bob")
    assert not (tmp_path / "mail" / "bob").exists()
    assert [p.name for p in (tmp_path / "mail").iterdir()] == []
    with pytest.raises(StorageError) as info:
        await folder.snapshot()
    assert info.value.kind is ErrorKind.NOT_FOUND
    fresh = await store.mailbox("bob")
    assert (await (await fresh.folder(INBOX)).snapshot()).messages == ()


# ------------------------------------------------------- append and read


async def test_append_read_crlf_round_trip(inbox: MaildirFolder) -> None:
    uid = await inbox.append(MSG)
    assert await inbox.read(uid) == MSG
    (name,) = files_in(inbox, "new")
    on_disk = (inbox.path / "new" / name).read_bytes()
    assert on_disk == MSG.replace(b"\r\n", b"\n")
    assert f",S={len(on_disk)},W={len(MSG)}" in name


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (b"a\nb\n", b"a\r\nb\r\n"),
        (b"a\r\nb\nc", b"a\r\nb\r\nc"),  # mixed, no final newline
        (b"bare\rcr\r\n", b"bare\rcr\r\n"),  # bare CR left alone
        (b".\n..\n.x\n", b".\r\n..\r\n.x\r\n"),  # dots are not our business
        (b"", b""),
    ],
)
async def test_line_ends(inbox: MaildirFolder, given: bytes, expected: bytes) -> None:
    uid = await inbox.append(given)
    data = await inbox.read(uid)
    assert data == expected
    snap = await inbox.snapshot()
    info = snap.find(uid)
    assert info is not None
    assert info.size == len(data)


async def test_size_of_foreign_file_is_computed_once(inbox: MaildirFolder) -> None:
    body = b"Subject: x\nmixed\r\nlf\n"
    (inbox.path / "new" / "1000.foreign.host").write_bytes(body)
    snap = await inbox.snapshot()
    (info,) = snap.messages
    assert info.size == len(await inbox.read(info.uid)) == len(body) + 2
    assert f"W{info.size} :1000.foreign.host" in (inbox.path / "dovecot-uidlist").read_text()


async def test_append_with_flags_and_internal_date(inbox: MaildirFolder) -> None:
    when = 1_000_000_000.0
    uid = await inbox.append(MSG, flags=[SEEN, "\\draft", "$Work"], internal_date=when)
    assert files_in(inbox, "new") == []
    (name,) = files_in(inbox, "cur")
    assert name.endswith(":2,DSa")
    assert (inbox.path / "dovecot-keywords").read_text() == "0 $Work\n"
    info = (await inbox.snapshot()).find(uid)
    assert info is not None
    assert info.flags == {SEEN, "\\Draft", "$Work"}
    assert info.internal_date == when


async def test_bad_flag_is_refused_before_writing(inbox: MaildirFolder) -> None:
    with pytest.raises(StorageError) as info:
        await inbox.append(MSG, flags=["\\Bogus"])
    assert info.value.kind is ErrorKind.INVALID_NAME
    with pytest.raises(StorageError):
        await inbox.append(MSG, flags=["two words"])
    assert files_in(inbox, "tmp") == files_in(inbox, "new") == files_in(inbox, "cur") == []


async def test_uids_ascend_and_survive_reopen(store: MaildirStore, tmp_path: Path) -> None:
    inbox = await (await store.mailbox("alice")).folder(INBOX)
    uids = [await inbox.append(MSG) for _ in range(5)]
    assert uids == [1, 2, 3, 4, 5]
    before = await inbox.snapshot()
    other = await (await MaildirStore(tmp_path / "mail").mailbox("alice")).folder(INBOX)
    after = await other.snapshot()
    assert after.uidvalidity == before.uidvalidity
    assert [m.uid for m in after.messages] == uids
    assert [m.key for m in after.messages] == [m.key for m in before.messages]


# ----------------------------------------------------------------- flags


async def test_store_flags_modes(inbox: MaildirFolder) -> None:
    uid = await inbox.append(MSG)
    add = await inbox.store_flags([uid], [SEEN, "$Junk"], FlagMode.ADD)
    assert add == {uid: frozenset({SEEN, "$Junk"})}
    assert files_in(inbox, "new") == []  # a flag change moves the message to cur/
    assert await inbox.store_flags([uid], ["$junk"], FlagMode.REMOVE) == {uid: frozenset({SEEN})}
    replaced = await inbox.store_flags([uid], [FLAGGED, "Other"], FlagMode.REPLACE)
    assert replaced == {uid: frozenset({FLAGGED, "Other"})}
    (name,) = files_in(inbox, "cur")
    assert name.endswith(":2,Fb")
    assert (inbox.path / "dovecot-keywords").read_text() == "0 $Junk\n1 Other\n"
    info = (await inbox.snapshot()).find(uid)
    assert info is not None
    assert info.flags == {FLAGGED, "Other"}
    assert await inbox.read(uid) == MSG


async def test_flags_of_missing_uids_are_skipped(inbox: MaildirFolder) -> None:
    uid = await inbox.append(MSG)
    assert await inbox.store_flags([uid, 99], [SEEN], FlagMode.ADD) == {uid: frozenset({SEEN})}


async def test_unknown_letters_are_preserved(inbox: MaildirFolder) -> None:
    (inbox.path / "cur" / "1000.x.host:2,PSz").write_bytes(b"x\n")
    (info,) = (await inbox.snapshot()).messages
    assert info.flags == {SEEN}  # P has no IMAP name, z no keyword
    await inbox.store_flags([info.uid], [DELETED], FlagMode.REPLACE)
    assert files_in(inbox, "cur") == ["1000.x.host:2,PTz"]


async def test_dovecot_extra_info_fields_are_preserved(inbox: MaildirFolder) -> None:
    (inbox.path / "cur" / "1000.x.host:2,S,foo=bar").write_bytes(b"x\n")
    (info,) = (await inbox.snapshot()).messages
    await inbox.store_flags([info.uid], [FLAGGED], FlagMode.ADD)
    assert files_in(inbox, "cur") == ["1000.x.host:2,FS,foo=bar"]


async def test_existing_keywords_file_is_used(inbox: MaildirFolder) -> None:
    (inbox.path / "dovecot-keywords").write_text("0 $Junk\n3 NonJunk\n")
    (inbox.path / "cur" / "1000.x.host:2,Sad").write_bytes(b"x\n")
    (info,) = (await inbox.snapshot()).messages
    assert info.flags == {SEEN, "$Junk", "NonJunk"}
    await inbox.store_flags([info.uid], ["new"], FlagMode.ADD)
    assert (inbox.path / "dovecot-keywords").read_text() == "0 $Junk\n1 new\n3 NonJunk\n"


async def test_too_many_keywords(inbox: MaildirFolder) -> None:
    uid = await inbox.append(MSG)
    await inbox.store_flags([uid], [f"k{i}" for i in range(26)], FlagMode.ADD)
    with pytest.raises(StorageError) as info:
        await inbox.store_flags([uid], ["one-too-many"], FlagMode.ADD)
    assert info.value.kind is ErrorKind.NO_PERMISSION


async def test_refused_keywords_take_no_slots(inbox: MaildirFolder) -> None:
    """A STORE refused for too many new keywords must not use up slots anyway:
    otherwise one oversized request leaves the folder unable to take any keyword."""
    uid = await inbox.append(MSG)
    await inbox.store_flags([uid], ["$Label1"], FlagMode.ADD)
    with pytest.raises(StorageError):
        await inbox.store_flags([uid], [f"k{i}" for i in range(26)], FlagMode.ADD)
    await inbox.store_flags([uid], [SEEN], FlagMode.ADD)  # a write that saves the keyword table
    assert (inbox.path / "dovecot-keywords").read_text() == "0 $Label1\n"
    assert await inbox.store_flags([uid], ["$Junk"], FlagMode.ADD) == {
        uid: frozenset({SEEN, "$Label1", "$Junk"})
    }


async def test_recent_flag_is_ignored(inbox: MaildirFolder) -> None:
    uid = await inbox.append(MSG)
    assert await inbox.store_flags([uid], ["\\Recent"], FlagMode.ADD) == {uid: frozenset()}


# --------------------------------------------------------------- expunge


async def test_expunge_deleted_only(inbox: MaildirFolder) -> None:
    uids = [await inbox.append(MSG) for _ in range(4)]
    await inbox.store_flags(uids[1:3], [DELETED], FlagMode.ADD)
    assert await inbox.expunge() == uids[1:3]
    snap = await inbox.snapshot()
    assert snap.uids == [uids[0], uids[3]]
    assert len(files_in(inbox, "new") + files_in(inbox, "cur")) == 2
    with pytest.raises(StorageError) as info:
        await inbox.read(uids[1])
    assert info.value.kind is ErrorKind.EXPUNGED
    assert await inbox.expunge() == []


async def test_expunge_given_uids_and_no_reuse(inbox: MaildirFolder) -> None:
    uids = [await inbox.append(MSG) for _ in range(3)]
    assert await inbox.expunge([uids[2], 42]) == [uids[2]]
    new_uid = await inbox.append(MSG)
    assert new_uid == uids[2] + 1
    assert (await inbox.snapshot()).uidnext == new_uid + 1


# ------------------------------------------------------------------ copy


async def test_copy_to_other_folder_keeps_flags_and_date(mailbox: MaildirMailbox) -> None:
    inbox = await mailbox.folder(INBOX)
    await mailbox.create_folder("Archive")
    archive = await mailbox.folder("Archive")
    a = await inbox.append(MSG, flags=[SEEN, "$Label1"], internal_date=1_200_000_000)
    b = await inbox.append(b"second\n")
    mapping = await inbox.copy_to([a, b, 999], archive)
    assert set(mapping) == {a, b}
    snap = await archive.snapshot()
    copy_a = snap.find(mapping[a])
    assert copy_a is not None
    assert copy_a.flags == {SEEN, "$Label1"}
    assert copy_a.internal_date == 1_200_000_000
    assert await archive.read(mapping[b]) == b"second\r\n"
    # Hard link: one inode, two names.
    (name,) = [n for n in files_in(archive, "cur") if n.startswith(copy_a.key)]
    assert os.stat(archive.path / "cur" / name).st_nlink == 2
    assert (await inbox.snapshot()).uids == [a, b]  # source untouched


async def test_copy_within_same_folder(inbox: MaildirFolder) -> None:
    uid = await inbox.append(MSG, flags=[FLAGGED])
    mapping = await inbox.copy_to([uid], inbox)
    assert mapping == {uid: uid + 1}
    snap = await inbox.snapshot()
    assert [m.flags for m in snap.messages] == [{FLAGGED}, {FLAGGED}]
    assert snap.messages[0].key != snap.messages[1].key


async def test_copy_after_external_flag_change(
    inbox: MaildirFolder, mailbox: MaildirMailbox
) -> None:
    await mailbox.create_folder("T")
    target = await mailbox.folder("T")
    uid = await inbox.append(MSG)
    await inbox.snapshot()
    (name,) = files_in(inbox, "new")
    os.rename(inbox.path / "new" / name, inbox.path / "cur" / f"{name}:2,S")  # another MUA
    mapping = await inbox.copy_to([uid], target)
    assert list(mapping) == [uid]


# ---------------------------------------------------------------- recent


async def test_recent_is_claimed_once(inbox: MaildirFolder) -> None:
    uids = [await inbox.append(MSG) for _ in range(3)]
    first = await inbox.snapshot(claim_recent=True)
    assert first.recent == set(uids)
    assert files_in(inbox, "new") == []
    assert all(name.endswith(":2,") for name in files_in(inbox, "cur"))
    second = await inbox.snapshot(claim_recent=True)
    assert second.recent == frozenset()
    assert second.version == first.version  # moving new/ -> cur/ changed no content
    later = await inbox.append(MSG)
    assert (await inbox.snapshot(claim_recent=True)).recent == {later}


async def test_recent_not_handed_out_twice_across_processes(
    inbox: MaildirFolder, tmp_path: Path
) -> None:
    uid = await inbox.append(MSG)
    other_store = MaildirStore(tmp_path / "mail")
    other = await (await other_store.mailbox("alice")).folder(INBOX)
    assert (await other.snapshot(claim_recent=True)).recent == {uid}
    assert (await inbox.snapshot(claim_recent=True)).recent == frozenset()


async def test_flagged_append_is_recent_in_process(inbox: MaildirFolder) -> None:
    uid = await inbox.append(MSG, flags=[SEEN])
    assert (await inbox.snapshot(claim_recent=True)).recent == {uid}
    assert (await inbox.snapshot(claim_recent=True)).recent == frozenset()


# ------------------------------------------------------- external changes


async def test_external_delivery_and_expunge_are_seen(inbox: MaildirFolder) -> None:
    uid = await inbox.append(MSG)
    snap = await inbox.snapshot()
    (inbox.path / "new" / "2000.mda.host").write_bytes(b"delivered\n")
    snap2 = await inbox.snapshot()
    assert snap2.uids == [uid, uid + 1]
    assert snap2.version > snap.version
    for name in files_in(inbox, "new"):
        if name.startswith("2000."):
            os.unlink(inbox.path / "new" / name)
    snap3 = await inbox.snapshot()
    assert snap3.uids == [uid]
    assert await inbox.append(MSG) == uid + 2  # the vanished UID is not reused


async def test_file_without_uid_after_crash_is_assigned(inbox: MaildirFolder) -> None:
    await inbox.append(MSG)
    # Simulate a crash between "rename into new/" and "uid list updated".
    (inbox.path / "new" / "3000.M1P1Q1.host,S=2,W=3").write_bytes(b"x\n")
    snap = await inbox.snapshot()
    assert snap.uids == [1, 2]
    assert snap.messages[1].size == 3


async def test_new_files_numbered_in_delivery_order(inbox: MaildirFolder) -> None:
    # As strings "M99158" > "M116858"; delivery order compares microseconds numerically.
    for name in ("1700000000.M116858P1Q2.host", "1700000000.M99158P1Q1.host", "1699999999.x"):
        (inbox.path / "new" / name).write_bytes(b"x\n")
    snap = await inbox.snapshot()
    assert [m.key for m in snap.messages] == [
        "1699999999.x",
        "1700000000.M99158P1Q1.host",
        "1700000000.M116858P1Q2.host",
    ]


async def test_unchanged_snapshot_is_cached(inbox: MaildirFolder) -> None:
    await inbox.append(MSG)
    first = await inbox.snapshot()
    old = time.time() - 10
    for sub in ("new", "cur"):
        os.utime(inbox.path / sub, (old, old))  # out of the dirty window
    second = await inbox.snapshot()
    third = await inbox.snapshot()
    assert second.version == first.version
    assert third is second


async def test_corrupt_uidlist_is_rebuilt_with_new_uidvalidity(inbox: MaildirFolder) -> None:
    await inbox.append(MSG)
    await inbox.append(MSG)
    before = await inbox.snapshot()
    (inbox.path / "dovecot-uidlist").write_text(f"3 V{before.uidvalidity} N3\n2 :a\n1 :b\n")
    after = await inbox.snapshot()
    assert after.uidvalidity > before.uidvalidity
    assert len(after.messages) == 2
    assert {m.key for m in after.messages} == {m.key for m in before.messages}


async def test_missing_uidlist_gets_new_uidvalidity(inbox: MaildirFolder) -> None:
    await inbox.append(MSG)
    before = await inbox.snapshot()
    os.unlink(inbox.path / "dovecot-uidlist")
    after = await inbox.snapshot()
    assert after.uidvalidity > before.uidvalidity
    assert len(after.messages) == 1


# ------------------------------------------------------------- listeners


async def test_listeners_called_after_changes(
    inbox: MaildirFolder, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def broken() -> None:
        raise RuntimeError("listener bug")

    def listener() -> None:
        calls.append("x")

    inbox.add_listener(broken)
    inbox.add_listener(listener)
    with caplog.at_level(logging.ERROR):
        uid = await inbox.append(MSG)
    assert calls == ["x"]
    assert "listener failed" in caplog.text
    await inbox.store_flags([uid], [DELETED], FlagMode.ADD)
    await inbox.expunge()
    assert calls == ["x", "x", "x"]
    await inbox.snapshot()
    assert len(calls) == 3
    inbox.remove_listener(listener)
    inbox.remove_listener(listener)  # twice is harmless
    await inbox.append(MSG)
    assert len(calls) == 3


async def test_copy_notifies_target(mailbox: MaildirMailbox) -> None:
    inbox = await mailbox.folder(INBOX)
    await mailbox.create_folder("T")
    target = await mailbox.folder("T")
    uid = await inbox.append(MSG)
    calls: list[int] = []
    target.add_listener(lambda: calls.append(1))
    await inbox.copy_to([uid], target)
    # At least once: on a loaded machine the folder watcher may also wake the
    # listener for the same new file (a spare wake only costs a rescan).
    assert calls


# ------------------------------------------------------ folder operations


async def test_create_list_delete(mailbox: MaildirMailbox) -> None:
    await mailbox.create_folder("Sent")
    await mailbox.create_folder("Work/Projects")
    await mailbox.create_folder("日本語")
    await mailbox.create_folder("INBOX/Sub")
    assert sorted(await mailbox.list_folders()) == sorted(
        ["INBOX", "Sent", "Work/Projects", "日本語", "INBOX/Sub"]
    )
    root = mailbox.path
    assert (root / ".Work.Projects" / "maildirfolder").exists()
    assert (root / ".&ZeVnLIqe-" / "cur").is_dir()
    assert (root / ".INBOX.Sub").is_dir()
    with pytest.raises(StorageError) as info:
        await mailbox.create_folder("Sent")
    assert info.value.kind is ErrorKind.EXISTS
    with pytest.raises(StorageError) as info:
        await mailbox.create_folder("inbox")
    assert info.value.kind is ErrorKind.EXISTS
    sent = await mailbox.folder("Sent")
    await sent.append(MSG)
    await mailbox.delete_folder("Sent")
    assert "Sent" not in await mailbox.list_folders()
    assert not any(p.name.startswith("..") for p in root.iterdir())
    with pytest.raises(StorageError) as info:
        await sent.snapshot()
    assert info.value.kind is ErrorKind.NOT_FOUND
    with pytest.raises(StorageError) as info:
        await mailbox.folder("Sent")
    assert info.value.kind is ErrorKind.NOT_FOUND
    with pytest.raises(StorageError) as info:
        await mailbox.delete_folder("Sent")
    assert info.value.kind is ErrorKind.NOT_FOUND
    with pytest.raises(StorageError) as info:
        await mailbox.delete_folder("INBOX")
    assert info.value.kind is ErrorKind.NO_PERMISSION


@pytest.mark.parametrize(
    "name", ["", "/a", "a/", "a//b", "a.b", "..", "a/../b", "x\x00", "tab\there"]
)
async def test_invalid_folder_names(mailbox: MaildirMailbox, name: str) -> None:
    with pytest.raises(StorageError) as info:
        await mailbox.create_folder(name)
    assert info.value.kind is ErrorKind.INVALID_NAME


async def test_wildcards_refused_on_create(mailbox: MaildirMailbox) -> None:
    for name in ("a*", "b%"):
        with pytest.raises(StorageError):
            await mailbox.create_folder(name)


async def test_rename_moves_subfolders(mailbox: MaildirMailbox) -> None:
    await mailbox.create_folder("A")
    await mailbox.create_folder("A/B")
    await mailbox.create_folder("A/B/C")
    await mailbox.create_folder("AB")  # shares a prefix but is not inferior
    old_a = await mailbox.folder("A")
    uid = await old_a.append(MSG, flags=[SEEN])
    await mailbox.rename_folder("A", "Z/Y")
    assert sorted(await mailbox.list_folders()) == ["AB", "INBOX", "Z/Y", "Z/Y/B", "Z/Y/B/C"]
    assert old_a.gone
    moved = await mailbox.folder("Z/Y")
    snap = await moved.snapshot()
    assert snap.uids == [uid]  # the uid list travels with the directory
    assert await moved.read(uid) == MSG
    with pytest.raises(StorageError) as info:
        await mailbox.rename_folder("Missing", "X")
    assert info.value.kind is ErrorKind.NOT_FOUND
    with pytest.raises(StorageError) as info:
        await mailbox.rename_folder("AB", "Z/Y/B")
    assert info.value.kind is ErrorKind.EXISTS
    with pytest.raises(StorageError) as info:
        await mailbox.rename_folder("AB", "AB/child")
    assert info.value.kind is ErrorKind.INVALID_NAME


async def test_rename_inbox_moves_messages(mailbox: MaildirMailbox) -> None:
    inbox = await mailbox.folder(INBOX)
    await mailbox.create_folder("INBOX/Kept")
    a = await inbox.append(MSG)
    b = await inbox.append(b"two\n", flags=[FLAGGED, "$Tag"])
    before = await inbox.snapshot()
    await mailbox.rename_folder("inbox", "Old")
    assert (await inbox.snapshot()).messages == ()
    assert await inbox.append(MSG) > b  # INBOX keeps its UID sequence
    old = await mailbox.folder("Old")
    snap = await old.snapshot()
    assert [m.key for m in snap.messages] == [m.key for m in before.messages]
    assert [m.flags for m in snap.messages] == [frozenset(), {FLAGGED, "$Tag"}]
    assert snap.messages[0].uid != a or snap.uidvalidity != before.uidvalidity
    assert "INBOX/Kept" in await mailbox.list_folders()


async def test_subscriptions(mailbox: MaildirMailbox) -> None:
    assert await mailbox.subscriptions() == set()
    await mailbox.subscribe("Work/台北")
    await mailbox.subscribe("inbox")
    await mailbox.subscribe("inbox")
    assert await mailbox.subscriptions() == {"Work/台北", "INBOX"}
    assert (mailbox.path / "subscriptions").read_text("utf-8") == "INBOX\nWork/台北\n"
    await mailbox.unsubscribe("Work/台北")
    await mailbox.unsubscribe("never")
    assert await mailbox.subscriptions() == {"INBOX"}
    with pytest.raises(StorageError):
        await mailbox.subscribe("bad.name")


async def test_foreign_dot_directories_are_not_folders(mailbox: MaildirMailbox) -> None:
    for name in ("..trash", ".bad&name", ".INBOX", ".a..b"):
        (mailbox.path / name).mkdir()
    (mailbox.path / ".not-a-dir").write_text("")
    assert await mailbox.list_folders() == ["INBOX"]


async def test_crash_leftovers_are_cleaned_on_open(tmp_path: Path) -> None:
    inbox = await (await MaildirStore(tmp_path).mailbox("eve")).folder(INBOX)
    old = time.time() - 40 * 3600
    stale = inbox.path / "tmp" / "1.M1P1Q1.host,S=1,W=1"
    fresh = inbox.path / "tmp" / "2.M1P1Q1.host,S=1,W=1"
    stale_list = inbox.path / "dovecot-uidlist.123.456.tmp"
    for path in (stale, fresh, stale_list):
        path.write_bytes(b"x")
    os.utime(stale, (old, old))
    os.utime(stale_list, (old, old))
    await (await MaildirStore(tmp_path).mailbox("eve")).folder(INBOX)  # a restarted server
    assert not stale.exists() and not stale_list.exists()
    assert fresh.exists()  # may be a delivery in progress


async def test_appends_extend_the_uid_list_instead_of_rewriting_it(
    store: MaildirStore, tmp_path: Path
) -> None:
    """A delivery into a big folder must not rewrite every line of its uid list."""
    inbox = await (await store.mailbox("alice")).folder(INBOX)
    for _ in range(3):
        await inbox.append(b"Subject: x\r\n\r\nbody\r\n")
    uidlist = inbox.path / "dovecot-uidlist"
    inode = uidlist.stat().st_ino
    await inbox.append(b"Subject: y\r\n\r\nbody\r\n")
    assert uidlist.stat().st_ino == inode, "appended in place, not replaced"
    assert uidlist.read_text().count("\n") == 5
    again = await (await MaildirStore(tmp_path / "mail").mailbox("alice")).folder(INBOX)
    snap = await again.snapshot()
    assert [m.uid for m in snap.messages] == [1, 2, 3, 4] and snap.uidnext == 5
    # A list that does not end with a newline is rewritten whole, never glued to.
    with uidlist.open("a") as handle:
        handle.write("9 :torn")
    uid = await inbox.append(b"Subject: z\r\n\r\nbody\r\n")
    assert uid == 10, "9 was taken by the unterminated line"
    assert uidlist.stat().st_ino != inode and f"\n{uid} :" in uidlist.read_text()
    other = await (await MaildirStore(tmp_path / "mail").mailbox("alice")).folder(INBOX)
    assert [m.uid for m in (await other.snapshot()).messages] == [1, 2, 3, 4, 10]
    assert "torn" not in uidlist.read_text(), "the line of a missing file is dropped"
