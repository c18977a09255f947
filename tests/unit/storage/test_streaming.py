"""Messages into and out of the store in chunks: append_file, open_message, the converters.

Each must give exactly what the whole-message forms (``append``, ``read``,
``to_disk``, ``to_wire``) give, whatever the chunk size.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailserver.storage import INBOX, ErrorKind, StorageError
from mailserver.storage.maildir import MaildirStore
from mailserver.storage.maildir.flags import crlf_size, to_disk, to_wire
from mailserver.storage.maildir.folder import SMALL_MESSAGE
from mailserver.storage.maildir.io import ToDisk
from mailserver.storage.stream import ToWire

SAMPLES = [
    b"Subject: x\r\n\r\nbody\r\n",
    b"bare\nLF\nand CRLF\r\nmixed\r\r\nCR\r",
    b"\r\n\r\n\n\r\r\r\n",
    b"",
    os.urandom(5000),
]


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 64, 100_000])
@pytest.mark.parametrize("data", SAMPLES, ids=range(len(SAMPLES)))
def test_chunked_converters_match_the_whole_message_ones(data: bytes, size: int) -> None:
    to_disk_stream = ToDisk()
    disk = b"".join(to_disk_stream.feed(c) for c in chunked(data, size)) + to_disk_stream.end()
    assert disk == to_disk(data)
    assert to_disk_stream.disk_size == len(disk)
    assert to_disk_stream.crlf_size == crlf_size(disk)
    to_wire_stream = ToWire()
    wire = b"".join(to_wire_stream.feed(c) for c in chunked(disk, size)) + to_wire_stream.end()
    assert wire == to_wire(disk)


async def test_append_file_stores_what_append_would(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path / "mail")
    folder = await (await store.mailbox("u")).folder(INBOX)
    body = b"line one\r\n.dot line\r\n" + b"x" * 3_000_000 + b"\r\nend\r\n"
    spooled = tmp_path / "spooled"
    spooled.write_bytes(b"IGNORED PREFIX" + body)
    prefix = b"Return-Path: <a@b>\r\nSubject: s\r\n\r\n"
    uid_file = await folder.append_file(spooled, offset=len(b"IGNORED PREFIX"), prefix=prefix)
    uid_bytes = await folder.append(prefix + body)
    assert spooled.exists()  # the caller's to remove
    assert await folder.read(uid_file) == await folder.read(uid_bytes) == prefix + body
    snapshot = await folder.snapshot()
    sizes = {info.uid: info.size for info in snapshot.messages}
    assert sizes[uid_file] == sizes[uid_bytes] == len(prefix + body)
    assert os.listdir(tmp_path / "mail" / "u" / "tmp") == []


async def test_open_message_streams_exact_sizes_and_ranges(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path / "mail")
    folder = await (await store.mailbox("u")).folder(INBOX)
    data = b"Subject: s\n\n" + b"".join(b"line %d\n" % i for i in range(100_000))
    uid = await folder.append(data)
    whole = await folder.read(uid)
    async with await folder.open_message(uid) as message:
        assert message.size == len(whole)
        assert b"".join([c async for c in message.chunks()]) == whole
    for start, count in [(0, 10), (5, 1_000_000), (300_000, 262_144), (len(whole), 5)]:
        async with await folder.open_message(uid) as message:
            got = b"".join([c async for c in message.chunks(start, count)])
        assert got == whole[start : start + count], (start, count)


@pytest.mark.parametrize("extra", [-1, 0, 1])
async def test_open_message_small_and_streamed_paths_agree(tmp_path: Path, extra: int) -> None:
    """A message up to SMALL_MESSAGE is read whole on open, a larger one streamed;
    both give what ``read`` gives, at the edge too (a CR at the cut included)."""
    store = MaildirStore(tmp_path / "mail")
    folder = await (await store.mailbox("u")).folder(INBOX)
    head = b"Subject: s\n\nbare LF\r\nCRLF\r\r\n"
    data = head + b"x" * (SMALL_MESSAGE + extra - len(head) - 1) + b"\r"
    uid = await folder.append(data)
    # Give the file exactly these octets (append stores LF line ends).
    maildir = tmp_path / "mail" / "u"
    (path,) = [*(maildir / "cur").iterdir(), *(maildir / "new").iterdir()]
    path.write_bytes(data)
    assert path.stat().st_size == SMALL_MESSAGE + extra
    whole = await folder.read(uid)
    async with await folder.open_message(uid) as message:
        assert message.size == len(whole)
        assert b"".join([c async for c in message.chunks()]) == whole
    async with await folder.open_message(uid) as message:
        assert b"".join([c async for c in message.chunks(3, 20)]) == whole[3:23]


async def test_committed_appends_remove_nothing_and_a_refused_one_leaves_no_tmp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A committed message file was renamed out of ``tmp/``: no ``unlink`` of a
    name that is gone (a system call and a GIL hand-off per delivery). A file
    staged by ``append_file`` and then refused at the quota is still removed."""
    store = MaildirStore(tmp_path / "mail", quota=lambda user: 400)
    folder = await (await store.mailbox("u")).folder(INBOX)
    spooled = tmp_path / "spooled"
    spooled.write_bytes(b"Subject: s\r\n\r\n" + b"x" * 200 + b"\r\n")
    unlinked: list[str] = []
    real_unlink = os.unlink

    def unlink(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        if os.path.basename(os.path.dirname(os.fspath(path))) == "tmp":  # message files
            unlinked.append(os.fspath(path))
        real_unlink(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "unlink", unlink)
    await folder.append(b"Subject: a\r\n\r\nbody\r\n")
    await folder.append_file(spooled)
    assert unlinked == []
    with pytest.raises(StorageError) as refused:
        await folder.append_file(spooled)  # 2 x 218 octets > 400
    assert refused.value.kind is ErrorKind.OVER_QUOTA
    assert len(unlinked) == 1
    assert os.listdir(tmp_path / "mail" / "u" / "tmp") == []
    assert len(os.listdir(tmp_path / "mail" / "u" / "new")) == 2
