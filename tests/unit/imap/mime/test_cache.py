"""MessageCache over the real maildir store: parse once, sidecar across restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailserver.imap.mime import MessageCache, ParsedMessage, Section
from mailserver.imap.mime import cache as cache_module
from mailserver.storage import INBOX, ErrorKind, MessageInfo, StorageError
from mailserver.storage.base import Folder
from mailserver.storage.maildir import MaildirStore
from tests.unit.imap.mime.imapdata import crlf, read_sexp

CORPUS = Path(__file__).parents[3] / "corpus" / "mime"


class CountingReads:
    """Wraps ``Folder.read`` of one real folder object to count disk reads."""

    def __init__(self, folder: Folder, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = folder.read

        async def read(uid: int) -> bytes:
            self.calls += 1
            return await original(uid)

        monkeypatch.setattr(folder, "read", read)


@pytest.fixture(autouse=True)
def _fresh_memory() -> None:
    """Each test starts with empty process-wide LRUs (as after a restart)."""
    cache_module._parsed.clear()
    cache_module._raw.clear()


async def open_inbox(root: Path) -> Folder:
    store = MaildirStore(root)
    return await (await store.mailbox("group1_1")).folder(INBOX)


async def append_corpus(folder: Folder, *names: str) -> list[MessageInfo]:
    for name in names:
        await folder.append((CORPUS / f"{name}.eml").read_bytes())
    return list((await folder.snapshot()).messages)


@pytest.fixture
async def inbox(tmp_path: Path) -> AsyncIterator[Folder]:
    folder = await open_inbox(tmp_path)
    yield folder
    await MessageCache.for_folder(folder).flush()


def test_one_cache_per_folder_object(tmp_path: Path) -> None:
    class Bare:
        pass

    a, b = Bare(), Bare()
    assert MessageCache.for_folder(a) is MessageCache.for_folder(a)  # type: ignore[arg-type]
    assert MessageCache.for_folder(a) is not MessageCache.for_folder(b)  # type: ignore[arg-type]


async def test_structure_parses_once(inbox: Folder, monkeypatch: pytest.MonkeyPatch) -> None:
    infos = await append_corpus(inbox, "lab_typical", "rfc3501_example")
    reads = CountingReads(inbox, monkeypatch)
    cache = MessageCache.for_folder(inbox)
    first = await cache.structure(inbox, infos[0])
    again = await cache.structure(inbox, infos[0])
    assert first is again
    assert reads.calls == 1
    assert first.size == infos[0].size
    body = read_sexp(first.bodystructure(False))
    assert body[-1] == b"MIXED"
    assert read_sexp(first.envelope())[0] == b"Mon, 14 Oct 2024 10:05:10 +0800"


async def test_sections_come_from_the_stored_crlf_bytes(inbox: Folder) -> None:
    (info,) = await append_corpus(inbox, "rfc822_attachment")
    cache = MessageCache.for_folder(inbox)
    whole = await cache.section(inbox, info, Section())
    assert whole == crlf((CORPUS / "rfc822_attachment.eml").read_bytes())
    assert len(whole) == info.size
    assert await cache.section(inbox, info, Section((2, 1))) == b"Plain original."
    header = await cache.section(inbox, info, Section((2,), "HEADER.FIELDS", ("Subject",)))
    assert header == b"Subject: original\r\n\r\n"
    assert await cache.section(inbox, info, Section((9,))) == b""


async def test_search_helpers(inbox: Folder) -> None:
    (info,) = await append_corpus(inbox, "lab_typical")
    cache = MessageCache.for_folder(inbox)
    assert await cache.contains_header(inbox, info, "SUBJECT", "邮件测试")
    assert not await cache.contains_header(inbox, info, "SUBJECT", "nothing like it")
    assert await cache.contains_body(inbox, info, "请查收附件")
    assert not await cache.contains_body(inbox, info, "group1_2")
    assert await cache.contains_text(inbox, info, "group1_2")
    assert await cache.contains_text(inbox, info, "请查收附件")
    assert not await cache.contains_text(inbox, info, "absent")


async def test_sidecar_survives_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = await open_inbox(tmp_path)
    infos = await append_corpus(folder, "lab_typical", "digest", "eightbit_headers")
    cache = MessageCache.for_folder(folder)
    before = [await cache.structure(folder, info) for info in infos]
    await cache.flush()
    sidecar = tmp_path / "group1_1" / cache_module.SIDECAR_NAME
    assert sidecar.is_file()

    cache_module._parsed.clear()
    cache_module._raw.clear()
    again = await open_inbox(tmp_path)  # a new store: new folder object, new cache
    assert again is not folder
    reads = CountingReads(again, monkeypatch)
    cache2 = MessageCache.for_folder(again)
    after = [await cache2.structure(again, info) for info in infos]
    assert reads.calls == 0
    for old, new in zip(before, after, strict=True):
        assert new.envelope() == old.envelope()
        assert new.bodystructure(True) == old.bodystructure(True)
        assert new.bodystructure(False) == old.bodystructure(False)
        assert new.header == old.header
        assert new.date() == old.date()
    # Sections from the restored tree slice the same bytes.
    assert await cache2.section(again, infos[0], Section((1, 1))) == (
        b"xOO6w6Os1eLKx8q10enK0rXEsuLK1NPKvP6howrH67LpytW4vbz+oaMK\r\n"
    )


@pytest.mark.parametrize(
    "content",
    [b"garbage", b"", b"mailserver-imap-cache 999\nx\t[1]\n", b"\xff\xfe\x00binary"],
)
async def test_unreadable_sidecar_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    folder = await open_inbox(tmp_path)
    (info,) = await append_corpus(folder, "rfc3501_example")
    sidecar = tmp_path / "group1_1" / cache_module.SIDECAR_NAME
    sidecar.write_bytes(content)
    reads = CountingReads(folder, monkeypatch)
    cache = MessageCache.for_folder(folder)
    parsed = await cache.structure(folder, info)
    assert reads.calls == 1
    assert b"cc.diff" in parsed.bodystructure(True)
    await cache.flush()
    assert sidecar.read_bytes().startswith(b"mailserver-imap-cache 2\n")
    assert info.key.encode() in sidecar.read_bytes()


async def test_corrupt_or_stale_entries_are_reparsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = await open_inbox(tmp_path)
    a, b = await append_corpus(folder, "rfc3501_example", "lab_typical")
    sidecar = tmp_path / "group1_1" / cache_module.SIDECAR_NAME
    cache = MessageCache.for_folder(folder)
    await cache.structure(folder, a)
    await cache.structure(folder, b)
    await cache.flush()
    lines = sidecar.read_text().splitlines()
    rewritten = [lines[0]]
    for line in lines[1:]:
        key, _, entry = line.partition("\t")
        if key == a.key:
            rewritten.append(f"{key}\t[1,2,3]")  # wrong shape
        else:
            rewritten.append(f"{key}\t5" + entry[entry.index("\t") :])  # wrong size
    rewritten.append("half a line cut by a cra")
    sidecar.write_text("\n".join(rewritten) + "\n")

    cache_module._parsed.clear()
    again = await open_inbox(tmp_path)
    reads = CountingReads(again, monkeypatch)
    cache2 = MessageCache.for_folder(again)
    assert b"cc.diff" in (await cache2.structure(again, a)).bodystructure(True)
    assert b"lab2-report.docx" in (await cache2.structure(again, b)).bodystructure(True)
    assert reads.calls == 2


async def test_expunged_entries_are_pruned_on_the_next_write(tmp_path: Path) -> None:
    folder = await open_inbox(tmp_path)
    infos = await append_corpus(folder, "rfc3501_example", "lab_typical", "digest")
    cache = MessageCache.for_folder(folder)
    for info in infos:
        await cache.structure(folder, info)
    await cache.flush()
    await folder.expunge([infos[0].uid, infos[1].uid])
    new = (await append_corpus(folder, "group_addresses"))[-1]
    await cache.structure(folder, new)
    await cache.flush()
    assert set(cache._stored) == {infos[2].key, new.key}
    # The file only grew (append); dead lines are dropped at the next compaction.
    entries, lines = cache_module._load_sidecar(tmp_path / "group1_1" / cache_module.SIDECAR_NAME)
    assert lines == 4 and {infos[2].key, new.key} <= set(entries)


async def test_appends_then_compacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = await open_inbox(tmp_path)
    sidecar = tmp_path / "group1_1" / cache_module.SIDECAR_NAME
    cache = MessageCache.for_folder(folder)
    infos = await append_corpus(folder, "empty_body")
    await cache.structure(folder, infos[0])
    await cache.flush()
    first_size = sidecar.stat().st_size
    infos = await append_corpus(folder, "header_only")
    await cache.structure(folder, infos[-1])
    await cache.flush()
    assert sidecar.stat().st_size > first_size  # appended, not lost
    # Expunge nearly everything after many parses: the next write compacts.
    monkeypatch.setattr(cache_module, "FLUSH_DELAY", 3600)
    for _ in range(70):
        await folder.append(b"Subject: x\r\n\r\nbody\r\n")
    for info in (await folder.snapshot()).messages:
        await cache.structure(folder, info)
    await cache.flush()
    await folder.expunge([m.uid for m in (await folder.snapshot()).messages][1:])
    last = (await append_corpus(folder, "missing_headers"))[-1]
    await cache.structure(folder, last)
    await cache.flush()
    entries, lines = cache_module._load_sidecar(sidecar)
    assert len(entries) == 2
    assert lines == 2


async def test_expunged_message_raises_storage_error(inbox: Folder) -> None:
    (info,) = await append_corpus(inbox, "empty_body")
    await inbox.expunge([info.uid])
    with pytest.raises(StorageError) as caught:
        await MessageCache.for_folder(inbox).section(inbox, info, Section())
    assert caught.value.kind == ErrorKind.EXPUNGED


async def test_big_message_is_parsed_off_the_loop(
    inbox: Folder, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = b"".join(b"line %d of a long text part\r\n" % i for i in range(40000))
    data = (
        b"Subject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n"
        + body
        + b"\r\n--b--\r\n"
    )
    uid = await inbox.append(data)
    info = (await inbox.snapshot()).find(uid)
    assert info is not None and info.size > cache_module.THREAD_THRESHOLD
    threads: list[object] = []
    real = asyncio.to_thread

    async def spy(func: object, *args: object) -> object:
        threads.append(func)
        return await real(func, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(cache_module.asyncio, "to_thread", spy)
    cache = MessageCache.for_folder(inbox)
    parsed = await cache.structure(inbox, info)
    assert any(getattr(f, "__name__", "") == "parse" for f in threads)
    part = read_sexp(parsed.bodystructure(False))[0]
    assert part[6] == len(body) and part[7] == 40000
    assert await cache.contains_body(inbox, info, "line 39999 OF A LONG")


async def test_memory_lru_is_bounded(inbox: Folder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "_parsed", cache_module._Lru(3, 10**9))
    monkeypatch.setattr(cache_module, "_raw", cache_module._Lru(2, 10**9))
    infos = await append_corpus(inbox, *["empty_body"] * 6)
    cache = MessageCache.for_folder(inbox)
    for info in infos:
        await cache.structure(inbox, info)
        await cache.section(inbox, info, Section())
    assert len(cache_module._parsed) == 3
    assert len(cache_module._raw) == 2


def test_lru_weight_limit() -> None:
    lru = cache_module._Lru(100, 10)
    lru.put("a", 1, 6)
    lru.put("b", 2, 6)
    assert lru.get("a") is None and lru.get("b") == 2
    lru.put("huge", 3, 11)
    assert lru.get("huge") is None
    assert lru.weight == 6


async def test_deleted_folder_write_is_quiet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = MaildirStore(tmp_path)
    mailbox = await store.mailbox("group1_1")
    await mailbox.create_folder("Gone")
    folder = await mailbox.folder("Gone")
    (info,) = await append_corpus(folder, "empty_body")
    cache = MessageCache.for_folder(folder)
    await cache.structure(folder, info)
    await cache.flush()
    other = (await append_corpus(folder, "header_only"))[-1]
    await cache.structure(folder, other)
    await mailbox.delete_folder("Gone")
    await cache.flush()
    assert "could not write" not in caplog.text
    assert not any(p.name.startswith(".Gone") for p in (tmp_path / "group1_1").iterdir())


def test_folder_without_weakref_support_still_gets_a_cache() -> None:
    class Slotted:
        __slots__ = ()

    cache = MessageCache.for_folder(Slotted())  # type: ignore[arg-type]
    assert isinstance(cache, MessageCache)


def test_weight_covers_the_header_fields_search_keeps() -> None:
    """A header of many tiny lines costs far more once parsed into fields: the budget must know."""
    import gc
    import tracemalloc

    data = b"".join(b"X-%d: v\r\n" % i for i in range(20000)) + b"\r\nbody\r\n"
    parsed = ParsedMessage.parse(data)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        assert not parsed.contains_header("Subject", "x")  # builds and keeps the fields
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert parsed.weight() >= held + len(data)


async def test_prefetch_reads_many_in_one_call(
    inbox: Folder, monkeypatch: pytest.MonkeyPatch
) -> None:
    infos = await append_corpus(inbox, "lab_typical", "rfc3501_example")
    gone = await inbox.append(b"Subject: gone\r\n\r\nx\r\n")
    gone_info = next(i for i in (await inbox.snapshot()).messages if i.uid == gone)
    await inbox.expunge([gone])
    reads = CountingReads(inbox, monkeypatch)
    batches: list[list[int]] = []
    original = inbox.read_many

    async def read_many(uids: object) -> dict[int, bytes]:
        wanted = list(uids)  # type: ignore[call-overload]
        batches.append(wanted)
        return await original(wanted)

    monkeypatch.setattr(inbox, "read_many", read_many)
    cache = MessageCache.for_folder(inbox)
    await cache.prefetch(inbox, [*infos, gone_info])
    assert batches == [[infos[0].uid, infos[1].uid, gone]]
    for info in infos:
        assert (await cache.structure(inbox, info)).size == info.size
    assert reads.calls == 0  # everything came from the prefetch
    await cache.prefetch(inbox, infos)
    assert len(batches) == 1  # nothing left to read


async def test_large_messages_are_held_whole_one_at_a_time(
    inbox: Folder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15: twenty clients asking for the structure of a 60 MiB message must
    not hold twenty copies of it; large ones are read and parsed one at a time."""
    monkeypatch.setattr(cache_module, "LARGE_MESSAGE", 1000)
    for number in range(4):
        await inbox.append(b"Subject: %d\r\n\r\n" % number + b"body line\r\n" * 500)
    infos = list((await inbox.snapshot()).messages)
    in_flight = peak = 0
    original = inbox.read

    async def read(uid: int) -> bytes:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.01)
            return await original(uid)
        finally:
            in_flight -= 1

    monkeypatch.setattr(inbox, "read", read)
    cache = MessageCache.for_folder(inbox)
    texts = await asyncio.gather(
        *(cache.section(inbox, info, Section(text="TEXT")) for info in infos),
        *(cache.structure(inbox, info) for info in infos),
        *(cache.contains_body(inbox, info, "body line") for info in infos),
    )
    assert texts[:4] == [b"body line\r\n" * 500] * 4
    assert all(texts[8:])
    assert peak == 1


async def test_release_idle_unloads_what_is_on_disk_and_reloads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a burst the process forgets the parsed forms it can rebuild from the
    sidecar; a later FETCH gets identical answers without reading the messages."""
    folder = await open_inbox(tmp_path)
    infos = await append_corpus(folder, "lab_typical", "digest", "eightbit_headers")
    cache = MessageCache.for_folder(folder)
    before = [await cache.structure(folder, info) for info in infos]
    cache_module.release_idle()  # not written yet: nothing may be forgotten
    assert cache._stored
    await cache.flush()
    cache_module.release_idle()
    assert not cache._stored and not cache._loaded
    assert len(cache_module._raw) == 0
    cache_module._parsed.clear()  # as if the LRU had dropped them too
    reads = CountingReads(folder, monkeypatch)
    after = [await cache.structure(folder, info) for info in infos]
    assert reads.calls == 0
    assert [p.bodystructure(True) for p in after] == [p.bodystructure(True) for p in before]
    assert [p.envelope() for p in after] == [p.envelope() for p in before]
