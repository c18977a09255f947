"""The first scan of a copied-in maildir (no ``dovecot-uidlist``, no journal).

Sizes come from ``W=`` in the name, else from the uid list's ``W`` field,
else from reading the file once (``S=`` is the on-disk size, not the CRLF
size IMAP reports, so it is never trusted for that). Each case is checked
against what ``read`` returns, which is the size clients see.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mailserver.storage import INBOX, SEEN
from mailserver.storage.maildir import MaildirFolder, MaildirStore, scan
from mailserver.storage.maildir.flags import crlf_size
from mailserver.storage.maildir.modseq import normalize_letters


@pytest.fixture
async def inbox(tmp_path: Path) -> MaildirFolder:
    return await (await MaildirStore(tmp_path / "mail").mailbox("alice")).folder(INBOX)


def reopen(folder: MaildirFolder) -> MaildirFolder:
    """A second folder object on the same directory: what a restart or another worker sees."""
    return MaildirFolder(folder.name, folder.path)


def drop(folder: MaildirFolder, name: str, data: bytes, sub: str = "cur") -> None:
    (folder.path / sub / name).write_bytes(data)


async def test_name_with_s_only_is_read_once_and_recorded(inbox: MaildirFolder) -> None:
    body = b"Subject: s only\n\nline\nline\r\n"
    drop(inbox, f"1000.M1P1.host,S={len(body)}:2,S", body)
    (info,) = (await inbox.snapshot()).messages
    assert info.size == len(await inbox.read(info.uid)) == crlf_size(body)
    assert info.flags == {SEEN}
    listed = (inbox.path / "dovecot-uidlist").read_text()
    assert f"W{info.size} :1000.M1P1.host,S={len(body)}" in listed
    # Another process trusts the recorded W and does not read the file again:
    # grow the file under the same name and the recorded size is still reported.
    drop(inbox, f"1000.M1P1.host,S={len(body)}:2,S", body + b"more\n")
    (again,) = (await reopen(inbox).snapshot()).messages
    assert again.size == info.size


async def test_w_in_the_name_is_trusted_without_reading(inbox: MaildirFolder) -> None:
    drop(inbox, "1000.M1P1.host,S=5,W=777:2,", b"tiny\n")
    (info,) = (await inbox.snapshot()).messages
    assert info.size == 777  # the name says so; Dovecot trusts it the same way
    listed = (inbox.path / "dovecot-uidlist").read_text()
    assert ":1000.M1P1.host,S=5,W=777\n" in listed
    assert " W777 " not in listed  # not recorded twice


@pytest.mark.parametrize(
    "name",
    [
        "1000.M1P1.host,S=3:2,",  # S= wrong
        "1000.M1P1.host,S=abc:2,",  # S= not a number
        "1000.M1P1.host,W=:2,",  # W= empty
        "1000.M1P1.host,W=12x:2,",  # W= not a number
        "1000.M1P1.host",  # no fields, no info (as an MDA leaves it in new/)
    ],
)
async def test_corrupt_size_fields_fall_back_to_reading(inbox: MaildirFolder, name: str) -> None:
    body = b"Subject: odd name\n\nbody\n"
    drop(inbox, name, body)
    (info,) = (await inbox.snapshot()).messages
    assert info.size == len(await inbox.read(info.uid)) == crlf_size(body)


async def test_file_removed_between_readdir_and_measuring(
    inbox: MaildirFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = b"Subject: x\n\nbody\n"
    for number in range(3):
        drop(inbox, f"{1000 + number}.M{number}P1.host,S={len(body)}:2,", body)
    victim = inbox.path / "cur" / f"1001.M1P1.host,S={len(body)}:2,"
    real_list = scan.ScannedFolder._list_files

    def list_then_delete(self: scan.ScannedFolder) -> dict[str, str]:
        files = real_list(self)
        if victim.exists():
            victim.unlink()  # another client expunged it right after our readdir
        return files

    monkeypatch.setattr(scan.ScannedFolder, "_list_files", list_then_delete)
    snap = await inbox.snapshot()
    assert [info.key for info in snap.messages] == ["1000.M0P1.host,S=17", "1002.M2P1.host,S=17"]
    assert [info.uid for info in snap.messages] == [1, 2]
    assert "1001.M1P1" not in (inbox.path / "dovecot-uidlist").read_text()
    for info in snap.messages:
        assert len(await inbox.read(info.uid)) == info.size


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
@pytest.mark.parametrize(
    "body",
    [b"", b"\r", b"\n", b"\r\n", b"a\r\nb\r\n", b"\r\r\n\n\r", b"x" * 50 + b"\r\n" * 9, b"a\nb\rc"],
    ids=["empty", "cr", "lf", "crlf", "two-crlf", "mixed", "long", "bare-cr"],
)
async def test_size_counted_in_chunks_matches_whole_read(
    inbox: MaildirFolder, monkeypatch: pytest.MonkeyPatch, chunk: int, body: bytes
) -> None:
    """A CR LF split across two reads counts once, whatever the chunk size."""
    monkeypatch.setattr(scan, "READ_CHUNK", chunk)
    drop(inbox, "1000.M1P1.host", body, sub="new")
    (info,) = (await inbox.snapshot()).messages
    assert info.size == crlf_size(body) == len(await inbox.read(info.uid))


async def test_copied_in_folder_keeps_order_flags_and_dates(inbox: MaildirFolder) -> None:
    names = ["1000.M9P1.h,S=4:2,S", "1000.M10P1.h,S=4:2,FS", "999.M5P1.h,S=4:2,", "1001.M1P1.h"]
    for index, name in enumerate(names):
        drop(inbox, name, b"x\ny\n", sub="new" if ":" not in name else "cur")
        os.utime(inbox.path / ("new" if ":" not in name else "cur") / name, (1, 1000 + index))
    snap = await inbox.snapshot(claim_recent=True)
    # UIDs in delivery order (seconds, then microseconds as numbers), as Dovecot gives them.
    assert [info.key.split(",")[0] for info in snap.messages] == [
        "999.M5P1.h",
        "1000.M9P1.h",
        "1000.M10P1.h",
        "1001.M1P1.h",
    ]
    assert [sorted(info.flags) for info in snap.messages] == [
        [],
        [SEEN],
        ["\\Flagged", SEEN],
        [],
    ]
    assert [info.internal_date for info in snap.messages] == [1002, 1000, 1001, 1003]
    assert all(info.size == 6 for info in snap.messages)
    assert len({info.modseq for info in snap.messages}) == 4  # each got its own
    assert snap.recent == {4}  # only the one in new/
    # A restart reads it all back the same, sizes from the uid list.
    again = await reopen(inbox).snapshot()
    assert [(i.uid, i.key, i.flags, i.size, i.internal_date, i.modseq) for i in again.messages] == [
        (i.uid, i.key, i.flags, i.size, i.internal_date, i.modseq) for i in snap.messages
    ]


def test_normalize_letters_fast_path_matches_the_general_rule() -> None:
    for letters in ["", "S", "\n", "\r", " ", "SR", "RS", "SS", "a"]:
        expected = "".join(sorted(set(letters) - {"\n", "\r", " "}))
        assert normalize_letters(letters) == expected


OPEN = """
import asyncio, json, sys, time
from pathlib import Path
from mailserver.storage.maildir import MaildirStore

async def main(root):
    go = Path(root) / "go"
    deadline = time.monotonic() + 30
    while not go.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.002)
    folder = await (await MaildirStore(Path(root)).mailbox("shared")).folder("INBOX")
    snap = await folder.snapshot(claim_recent=True)
    print(json.dumps({
        "uidvalidity": snap.uidvalidity,
        "messages": [[m.uid, m.key, m.size] for m in snap.messages],
        "recent": sorted(snap.recent),
    }))

asyncio.run(main(sys.argv[1]))
"""


def test_copied_in_folder_opened_by_two_processes_at_once(tmp_path: Path) -> None:
    """Both processes scan a folder nobody has numbered yet: one of them writes
    the uid list under the flock, the other reads it; the UIDs agree."""
    root = tmp_path / "mail"
    inbox = root / "shared"
    for sub in ("tmp", "new", "cur"):
        (inbox / sub).mkdir(parents=True)
    body = b"Subject: copied\n\nbody\n"
    for number in range(600):
        sub = "new" if number % 3 == 0 else "cur"
        suffix = "" if sub == "new" else ":2,S"
        (inbox / sub / f"{1000 + number}.M{number}P1.h,S={len(body)}{suffix}").write_bytes(body)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, str(root)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    (root / "go").touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    first, second = results
    assert first["uidvalidity"] == second["uidvalidity"]
    assert first["messages"] == second["messages"]
    assert [uid for uid, _, _ in first["messages"]] == list(range(1, 601))
    assert {size for _, _, size in first["messages"]} == {crlf_size(body)}
    # Each new/ message is recent for exactly one of the two (whoever moved it to cur/).
    assert not set(first["recent"]) & set(second["recent"])
    assert len(set(first["recent"]) | set(second["recent"])) == 200
    assert not os.listdir(inbox / "new")
    lines = (inbox / "dovecot-uidlist").read_text().splitlines()
    assert len(lines) == 601  # one header, one line per message: numbered once
