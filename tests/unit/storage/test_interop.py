"""Our maildirs and Python's ``mailbox.Maildir`` read each other.

Python's module is an independent maildir implementation (Maildir++
``.``-folders, ``:2,`` flag letters), so agreeing with it is a cheap check
that other tools (mutt, Dovecot, Courier) will agree too.
"""

from __future__ import annotations

import mailbox
from pathlib import Path

from mailserver.storage import DRAFT, FLAGGED, INBOX, SEEN, FlagMode
from mailserver.storage.maildir import MaildirStore


async def test_python_reads_what_we_write(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path)
    ours = await store.mailbox("carol")
    inbox = await ours.folder(INBOX)
    plain = await inbox.append(b"Subject: plain\r\n\r\nbody\r\n")
    flagged = await inbox.append(b"Subject: flagged\r\n\r\nbody\r\n", flags=[SEEN, FLAGGED])
    await ours.create_folder("Work")
    work = await ours.folder("Work")
    await work.append(b"Subject: work\r\n\r\nw\r\n", flags=[DRAFT])
    await inbox.store_flags([plain], ["$Label1"], FlagMode.ADD)  # keyword letter 'a'

    theirs = mailbox.Maildir(tmp_path / "carol", factory=None, create=False)
    by_subject = {msg["Subject"]: msg for msg in theirs}
    assert set(by_subject) == {"plain", "flagged"}
    assert by_subject["flagged"].get_flags() == "FS"
    assert by_subject["plain"].get_flags() == "a"  # Python keeps letters it does not know
    assert by_subject["plain"].get_payload() == "body\n"
    assert theirs.list_folders() == ["Work"]
    (work_msg,) = list(theirs.get_folder("Work"))
    assert work_msg["Subject"] == "work"
    assert work_msg.get_flags() == "D"
    assert flagged  # keep the name used


async def test_we_read_what_python_writes(tmp_path: Path) -> None:
    root = tmp_path / "dave"
    theirs = mailbox.Maildir(root, create=True)
    first = mailbox.MaildirMessage(b"Subject: one\n\nfirst\n")
    second = mailbox.MaildirMessage(b"Subject: two\n\nsecond\n")
    second.set_subdir("cur")
    second.set_flags("RS")
    key1 = theirs.add(first)
    key2 = theirs.add(second)
    sub = theirs.add_folder("Lists")
    sub_msg = mailbox.MaildirMessage(b"Subject: list\n\nl\n")
    sub_msg.set_subdir("cur")
    sub_msg.set_flags("F")
    sub.add(sub_msg)

    store = MaildirStore(tmp_path)
    ours = await store.mailbox("dave")
    assert sorted(await ours.list_folders()) == ["INBOX", "Lists"]
    inbox = await ours.folder(INBOX)
    snap = await inbox.snapshot()
    assert {m.key for m in snap.messages} == {key1, key2}
    flags = {m.key: m.flags for m in snap.messages}
    assert flags == {key1: frozenset(), key2: {SEEN, "\\Answered"}}
    for info in snap.messages:
        data = await inbox.read(info.uid)
        assert len(data) == info.size
        assert data.startswith(b"Subject: ")
        assert b"\n" not in data.replace(b"\r\n", b"")

    # UIDs are stable across store instances (they live in dovecot-uidlist).
    again = await (await MaildirStore(tmp_path).mailbox("dave")).folder(INBOX)
    snap2 = await again.snapshot()
    assert [(m.uid, m.key) for m in snap2.messages] == [(m.uid, m.key) for m in snap.messages]
    assert snap2.uidvalidity == snap.uidvalidity

    # Python keeps writing; the new message gets the next UID, old ones keep theirs.
    key3 = theirs.add(mailbox.MaildirMessage(b"Subject: three\n\nthird\n"))
    snap3 = await again.snapshot()
    assert [m.uid for m in snap3.messages] == [*snap.uids, max(snap.uids) + 1]
    assert snap3.messages[-1].key == key3

    lists = await ours.folder("Lists")
    (list_info,) = (await lists.snapshot()).messages
    assert list_info.flags == {FLAGGED}
    assert await lists.read(list_info.uid) == b"Subject: list\r\n\r\nl\r\n"

    # And Python still reads the folder after we changed flags.
    uid1 = next(m.uid for m in snap.messages if m.key == key1)
    await inbox.store_flags([uid1], [SEEN], FlagMode.ADD)
    assert sorted(msg.get_flags() for msg in theirs) == ["", "RS", "S"]
