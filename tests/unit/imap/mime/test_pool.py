"""The pooled cold parse (mime/pool.py, cache.Prefetcher) answers what the in-process one does.

Differential over a real maildir folder: every corpus message (plus
generated multipart ones, so there are several batches) is parsed the
ordinary way (``ParsedMessage.parse`` of ``Folder.read``) and by the pool
path -- a real spawned process pool, batches of message paths -- and the
whole parsed form and the sidecar entry must be identical. A folder
changed during the FETCH (messages expunged through another store object,
as another session or process would) must give the survivors' same
answers and report the expunged ones as expunged.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from mailserver.imap.mime import MessageCache, ParsedMessage, pool
from mailserver.imap.mime import cache as cache_module
from mailserver.imap.mime import sidecar as sidecar_file
from mailserver.storage import (
    DELETED,
    INBOX,
    ErrorKind,
    FlagMode,
    MessageInfo,
    Snapshot,
    StorageError,
)
from mailserver.storage.base import Folder
from mailserver.storage.maildir import MaildirStore
from tests.support.processes import running
from tests.support.waiting import until

#: The sidecar file's first line, as written.
FIRST_LINE = f"{sidecar_file.MAGIC}\n".encode()

CORPUS = Path(__file__).parents[3] / "corpus" / "mime"
GENERATED = 150


def generated(number: int) -> bytes:
    """Messages of three shapes whose header values vary with ``number``."""
    head = (
        f"From: Sender {number % 7} <s{number % 7}@example.org>\r\n"
        f"To: a{number % 5}@example.net, B <b@example.net>\r\n"
        f"Subject: =?utf-8?q?n=C3=BAmero_{number}?=\r\n"
        f"Date: Mon, 7 Dec 2026 10:{number % 60:02d}:00 +0000\r\n"
        f"Message-ID: <{number}@example.org>\r\nMIME-Version: 1.0\r\n"
    )
    text = f"Body {number}\r\n"
    if number % 3 == 0:
        return (
            head + f'Content-Type: multipart/alternative; boundary="b{number}"\r\n\r\n'
            f"--b{number}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}"
            f"--b{number}\r\nContent-Type: text/html\r\n\r\n<p>{text}</p>\r\n--b{number}--\r\n"
        ).encode()
    if number % 3 == 1:
        return (head + f"Content-Type: text/plain; format=flowed\r\n\r\n{text}").encode()
    return (
        head + 'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
        f'--m\r\n\r\n{text}--m\r\nContent-Type: application/pdf; name="f{number}.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--m--\r\n"
    ).encode()


def messages() -> list[bytes]:
    corpus = [path.read_bytes() for path in sorted(CORPUS.glob("*.eml"))]
    assert len(corpus) > 10
    return corpus + [generated(n) for n in range(GENERATED)]


@pytest.fixture(autouse=True)
def _fresh_memory() -> Iterator[None]:
    cache_module._parsed.clear()
    cache_module._raw.clear()
    yield
    cache_module._parsed.clear()


@pytest.fixture(scope="module")
def real_pool() -> Iterator[pool.ParsePool]:
    """One spawned pool for the module (starting one costs a fraction of a second)."""
    parse_pool = pool.ParsePool(workers=1)
    yield parse_pool
    parse_pool.shutdown(wait=5)


@pytest.fixture
async def inbox(tmp_path: Path) -> AsyncIterator[Folder]:
    folder = await (await MaildirStore(tmp_path).mailbox("group1_1")).folder(INBOX)
    for data in messages():
        await folder.append(data)
    yield folder
    await MessageCache.for_folder(folder).flush()


def plain(data: bytes) -> tuple[list[object], str]:
    parsed = ParsedMessage.parse(data)
    return parsed.to_json(), parsed.entry_text()


def sidecar_lines(path: Path) -> dict[str, str]:
    """A sidecar file's entries by key (the magic line checked)."""
    lines = path.read_text().splitlines()
    assert lines[0] == sidecar_file.MAGIC
    return dict(line.split("\t", 1) for line in lines[1:])


async def pool_items(folder: Folder) -> tuple[list[MessageInfo], list[pool.Item]]:
    infos = list((await folder.snapshot()).messages)
    paths = await folder.message_paths(info.uid for info in infos)
    assert set(paths) == {info.uid for info in infos}
    return infos, [(paths[info.uid], info.size, info.key) for info in infos]


async def test_pool_parses_like_the_process(
    inbox: Folder, real_pool: pool.ParsePool, tmp_path: Path
) -> None:
    infos, items = await pool_items(inbox)
    sidecar = tmp_path / "sidecar"
    answer = await real_pool.parse(str(sidecar), items)
    assert answer is not None and real_pool.running
    results, written = answer
    assert len(results) == len(infos)
    assert written == [info.key for info in infos]
    entries = sidecar_lines(sidecar)  # created by the helper, magic line first
    assert list(entries) == written
    for info, result in zip(infos, results, strict=True):
        assert result is not None
        data = await inbox.read(info.uid)
        expected_json, expected_entry = plain(data)
        whole = ParsedMessage.parse(data)
        assert result == (whole.envelope(), whole.bodystructure(False), whole.bodystructure(True))
        assert entries[info.key] == expected_entry
        assert ParsedMessage.from_entry_text(entries[info.key]).to_json() == expected_json
    # A second batch appends to the file (the same entries again: a later line wins).
    again = await real_pool.parse(str(sidecar), items[:3])
    assert again is not None and again[1] == written[:3]
    assert len(sidecar.read_text().splitlines()) == 1 + len(infos) + 3


async def test_gone_or_changed_files_come_back_as_none(
    inbox: Folder, real_pool: pool.ParsePool, tmp_path: Path
) -> None:
    info = (await inbox.snapshot()).messages[0]
    path = (await inbox.message_paths([info.uid]))[info.uid]
    answer = await real_pool.parse(
        str(tmp_path / "sidecar"),
        [(path, info.size + 1, "a"), (path + ".gone", info.size, "b"), (path, info.size, "c")],
    )
    assert answer is not None
    results, written = answer
    assert results[0] is None and results[1] is None and results[2] is not None
    assert written == ["c"]


def test_read_file_reads_at_most_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "m"
    path.write_bytes(b"a\nb\n")
    assert pool.read_file(str(path), 100) == b"a\nb\n"
    assert pool.read_file(str(path), 4) == b"a\nb\n"
    assert pool.read_file(str(path), 3) == b"a\nb"
    path.write_bytes(b"")
    assert pool.read_file(str(path), 5) == b""
    with pytest.raises(FileNotFoundError):
        pool.read_file(str(tmp_path / "gone"), 5)


def test_a_file_longer_or_shorter_than_its_size_is_not_parsed(tmp_path: Path) -> None:
    """The helper reads one byte more than the wire size: enough to see a file that
    grew, since on disk (LF line ends) it is never longer than on the wire."""
    data = b"Subject: x\n\nbody\n"
    wire = data.replace(b"\n", b"\r\n")
    path = tmp_path / "m"
    path.write_bytes(data)
    done = pool.parse_one(str(path), len(wire))
    assert done is not None and done[1].to_json() == ParsedMessage.parse(wire).to_json()
    assert pool.parse_one(str(path), len(wire) - 1) is None
    assert pool.parse_one(str(path), len(wire) + 1) is None
    path.write_bytes(data + b"\n" * 1000)  # grew far beyond the size
    assert pool.parse_one(str(path), len(wire)) is None


async def test_no_key_or_no_sidecar_writes_nothing(
    inbox: Folder, real_pool: pool.ParsePool, tmp_path: Path
) -> None:
    _, items = await pool_items(inbox)
    answer = await real_pool.parse(None, items[:2])
    assert answer is not None and answer[1] == [] and all(answer[0])
    sidecar = tmp_path / "sidecar"
    answer = await real_pool.parse(str(sidecar), [(path, size, "") for path, size, _ in items[:2]])
    assert answer is not None and answer[1] == [] and all(answer[0])
    assert not sidecar.exists()


def test_append_sidecar_leaves_foreign_and_full_files_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = b"k\t[1]\n"
    foreign = tmp_path / "foreign"
    foreign.write_bytes(b"mailserver-imap-cache 0\nold\t[1]\n")
    assert not sidecar_file.append(str(foreign), line)
    assert foreign.read_bytes() == b"mailserver-imap-cache 0\nold\t[1]\n"
    ours = tmp_path / "ours"
    assert sidecar_file.append(str(ours), line)  # created, magic first
    assert sidecar_file.append(str(ours), line)
    assert ours.read_bytes() == FIRST_LINE + line + line
    monkeypatch.setattr(sidecar_file, "MAX_SIDECAR_BYTES", len(FIRST_LINE) + 2 * len(line) + 1)
    assert not sidecar_file.append(str(ours), line)  # would pass the limit
    assert ours.read_bytes() == FIRST_LINE + line + line
    assert not sidecar_file.append(str(tmp_path / "gone" / "sidecar"), line)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign", "ours"]  # no temp files


async def test_a_helper_killed_holding_a_batch_fails_only_that_batch(inbox: Folder) -> None:
    """The batch in a killed helper's hands comes back as None (its caller parses
    in the process); the next call starts a fresh helper; none is left a zombie."""
    _, items = await pool_items(inbox)
    parse_pool = pool.ParsePool(workers=1)
    try:
        assert await parse_pool.parse(None, items[:1]) is not None
        (pid,) = parse_pool.pids()
        os.kill(pid, signal.SIGSTOP)  # holds the next batch unanswered
        pending = asyncio.ensure_future(parse_pool.parse(None, items))
        await asyncio.sleep(0.05)
        assert not pending.done()
        os.kill(pid, signal.SIGKILL)
        assert await asyncio.wait_for(pending, 20) is None
        assert not parse_pool.running
        again = await parse_pool.parse(None, items[:2])  # a fresh helper
        assert again is not None and all(again[0])
        assert parse_pool.pids() and parse_pool.pids() != [pid]
        await until(lambda: not running(pid), 20)  # reaped, not a zombie
    finally:
        parse_pool.shutdown(wait=5)


async def test_shutdown_ends_the_helpers(inbox: Folder) -> None:
    _, items = await pool_items(inbox)
    parse_pool = pool.ParsePool(workers=2)
    first = asyncio.ensure_future(parse_pool.parse(None, items))
    second = asyncio.ensure_future(parse_pool.parse(None, items))
    assert (await first) is not None and (await second) is not None
    pids = parse_pool.pids()
    assert len(pids) == 2  # two helpers, each started once
    parse_pool.shutdown(wait=5)
    assert not parse_pool.running
    assert not any(running(pid) for pid in pids)


def test_the_pool_works_on_uvloop(tmp_path: Path) -> None:
    """The servers run on uvloop, whose transports are not asyncio's classes."""
    uvloop = pytest.importorskip("uvloop")
    message = tmp_path / "m"
    message.write_bytes(b"From: a@example.org\nSubject: hi\n\nbody\n")
    size = message.read_bytes().count(b"\n") + len(message.read_bytes())  # CRLF on the wire

    async def main() -> pool.Answer | None:
        parse_pool = pool.ParsePool(workers=1)
        try:
            return await parse_pool.parse(str(tmp_path / "sidecar"), [(str(message), size, "k")])
        finally:
            parse_pool.shutdown(wait=5)

    answer = uvloop.run(main())
    assert answer is not None
    whole = ParsedMessage.parse(message.read_bytes().replace(b"\n", b"\r\n"))
    assert answer == (
        [(whole.envelope(), whole.bodystructure(False), whole.bodystructure(True))],
        ["k"],
    )


async def render_all(
    folder: Folder,
    snapshot: Snapshot,
    lookup: Callable[[int], MessageInfo | None] | None = None,
    used: list[cache_module.Prefetcher] | None = None,
) -> dict[int, tuple[bytes, bytes, bytes] | None]:
    """What FETCH does: the prefetcher ahead, then each message's structure,
    by the session's (possibly stale) snapshot."""
    cache = MessageCache.for_folder(folder)
    uids = [info.uid for info in snapshot.messages]
    ahead = cache.prefetcher(folder, uids, lookup or snapshot.find)
    if used is not None:
        used.append(ahead)
    out: dict[int, tuple[bytes, bytes, bytes] | None] = {}
    try:
        for index, uid in enumerate(uids):
            await ahead.ready(index)
            info = snapshot.find(uid)
            assert info is not None
            try:
                parsed = ahead.take(uid) or await cache.structure(folder, info)
            except StorageError as exc:
                assert exc.kind is ErrorKind.EXPUNGED
                out[uid] = None
                continue
            out[uid] = (parsed.envelope(), parsed.bodystructure(False), parsed.bodystructure(True))
    finally:
        ahead.close()
    return out


def expected(folder_data: dict[int, bytes]) -> dict[int, tuple[bytes, bytes, bytes]]:
    out = {}
    for uid, data in folder_data.items():
        parsed = ParsedMessage.parse(data)
        out[uid] = (parsed.envelope(), parsed.bodystructure(False), parsed.bodystructure(True))
    return out


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch, real_pool: pool.ParsePool) -> None:
    """The pool path for a folder of a few hundred: a low threshold, batches of 16."""
    monkeypatch.setattr(pool, "POOL_MIN", 32)
    monkeypatch.setattr(pool, "BATCH", 16)
    monkeypatch.setattr(pool, "POOL", real_pool)


async def test_prefetcher_uses_the_pool_and_matches(
    inbox: Folder, small_batches: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    infos = list((await inbox.snapshot()).messages)
    want = expected({info.uid: await inbox.read(info.uid) for info in infos})
    pooled = 0
    original = pool.POOL.parse

    async def counting(sidecar: str | None, items: list[pool.Item]) -> pool.Answer | None:
        nonlocal pooled
        answer = await original(sidecar, items)
        pooled += sum(1 for r in (answer[0] if answer else []) if r is not None)
        return answer

    monkeypatch.setattr(pool.POOL, "parse", counting)
    used: list[cache_module.Prefetcher] = []
    got = await render_all(inbox, await inbox.snapshot(), used=used)
    assert got == want
    assert pooled > len(infos) // 4  # the pool did a real share of the work
    (ahead,) = used
    stolen = len(ahead._stolen) * pool.BATCH
    # Every message went to the pool with its file, unless the writer took its batch.
    assert pooled >= len(infos) - stolen
    assert ahead._paths == {}  # no file names left behind
    # The sidecar holds the pool's entries: a restart answers the same.
    cache = MessageCache.for_folder(inbox)
    await cache.flush()
    assert cache._sidecar is not None
    assert set(sidecar_lines(cache._sidecar)) == {info.key for info in infos}
    cache_module._parsed.clear()
    fresh = MessageCache(cache._sidecar.parent if cache._sidecar else None)
    for info in infos:
        parsed = await fresh.structure(inbox, info)
        assert (parsed.envelope(), parsed.bodystructure(False), parsed.bodystructure(True)) == (
            want[info.uid]
        )


async def test_the_writer_takes_every_prepared_message_from_the_prefetcher(
    inbox: Folder,
) -> None:
    """Parses made (or found cached) in the process are handed to the writer as
    the pool's answers are, so its one-call-per-item path serves them too."""
    snapshot = await inbox.snapshot()
    infos = list(snapshot.messages)
    want = expected({info.uid: await inbox.read(info.uid) for info in infos})
    cache = MessageCache.for_folder(inbox)
    for _ in range(2):  # parsed here, then found in the parse cache
        ahead = cache.prefetcher(inbox, [info.uid for info in infos], snapshot.find)
        assert not ahead.pooled
        for index, info in enumerate(infos):
            await ahead.ready(index)
            got = ahead.take(info.uid)
            assert got is not None, info.uid
            assert (got.envelope(), got.bodystructure(False), got.bodystructure(True)) == (
                want[info.uid]
            )
            assert ahead.take(info.uid) is None  # once
        ahead.close()


async def test_a_big_fetch_writes_what_the_writer_parsed_when_it_ends(
    inbox: Folder, small_batches: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries the event loop parsed itself (batches it took while waiting for the
    pool) reach the sidecar file when the FETCH ends, not FLUSH_DELAY later: a
    session on another worker process knows only the file."""
    monkeypatch.setattr(cache_module, "FLUSH_DELAY", 3600)
    snapshot = await inbox.snapshot()
    infos = list(snapshot.messages)
    cache = MessageCache.for_folder(inbox)
    await cache.prefetch(inbox, infos)  # parsed here: pending, the write an hour away
    assert cache._sidecar is not None and cache._pending
    assert not cache._sidecar.exists() or not sidecar_lines(cache._sidecar)
    ahead = cache.prefetcher(inbox, [info.uid for info in infos], snapshot.find)
    assert ahead.pooled
    ahead.close()
    sidecar = cache._sidecar
    await until(
        lambda: sidecar.exists() and set(sidecar_lines(sidecar)) == {i.key for i in infos},
        what="the sidecar entries",
    )


@pytest.mark.parametrize("when", ["before", "during"])
async def test_prefetcher_with_messages_expunged_meanwhile(
    inbox: Folder, small_batches: None, tmp_path: Path, when: str
) -> None:
    """Another session's store object expunges part of the folder after this
    session's snapshot: before the FETCH starts (every expunged message must
    be reported gone) or once its first batches are handed out (each one
    either answered as it was or reported gone)."""
    snapshot = await inbox.snapshot()
    infos = list(snapshot.messages)
    want = expected({info.uid: await inbox.read(info.uid) for info in infos})
    other = await (await MaildirStore(tmp_path).mailbox("group1_1")).folder(INBOX)
    doomed = [info.uid for info in infos[40::7]] + [infos[-1].uid]

    async def expunge() -> None:
        await other.store_flags(doomed, [DELETED], FlagMode.ADD)
        assert sorted(await other.expunge()) == sorted(doomed)

    asked = 0

    def lookup(uid: int) -> MessageInfo | None:
        nonlocal asked
        asked += 1
        return snapshot.find(uid)

    async def expunge_when_started() -> None:
        while asked < 16:
            await asyncio.sleep(0)
        await expunge()

    if when == "before":
        await expunge()
        expunger = None
    else:
        expunger = asyncio.ensure_future(expunge_when_started())
    got = await render_all(inbox, snapshot, lookup)
    if expunger is not None:
        await expunger
    for info in infos:
        if got[info.uid] is None:
            assert info.uid in doomed
        else:
            assert got[info.uid] == want[info.uid]
    if when == "before":
        assert [uid for uid, answer in got.items() if answer is None] == sorted(doomed)


async def test_batches_the_writer_takes_are_parsed_as_the_pool_would(
    inbox: Folder, small_batches: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow pool makes the writer take batches itself: they are parsed from
    the message files in a thread (not read through the store and parsed on
    the loop), answer the same and reach the sidecar file at once."""
    infos = list((await inbox.snapshot()).messages)
    want = expected({info.uid: await inbox.read(info.uid) for info in infos})
    original = pool.POOL.parse

    async def slow(sidecar: str | None, items: list[pool.Item]) -> pool.Answer | None:
        await asyncio.sleep(0.2)
        return await original(sidecar, items)

    async def no_reading(uids: object) -> dict[int, bytes]:
        raise AssertionError("a taken batch was read through the store")

    monkeypatch.setattr(pool.POOL, "parse", slow)
    monkeypatch.setattr(inbox, "read_many", no_reading)
    used: list[cache_module.Prefetcher] = []
    assert await render_all(inbox, await inbox.snapshot(), used=used) == want
    (ahead,) = used
    assert ahead._stolen  # the writer did take batches
    cache = MessageCache.for_folder(inbox)
    assert not cache._pending and cache._in_file == {info.key for info in infos}
    assert cache._sidecar is not None
    assert set(sidecar_lines(cache._sidecar)) == {info.key for info in infos}


async def test_entries_the_pool_wrote_are_read_back_not_parsed_again(
    inbox: Folder, small_batches: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool's entries never cross to the event loop: a compaction of the
    sidecar right after the FETCH keeps them, and a SEARCH or section of such
    a message loads them from the sidecar file (not the message file)."""
    snapshot = await inbox.snapshot()
    infos = list(snapshot.messages)
    datas = {info.uid: await inbox.read(info.uid) for info in infos}
    want = expected(datas)
    cache = MessageCache.for_folder(inbox)
    assert await render_all(inbox, snapshot) == want
    # The batches the writer parsed itself went the pool's way too (in a
    # thread of this process): their entries are in the file, not in memory.
    pooled = infos
    assert all(info.key not in cache._stored for info in pooled)
    assert cache._in_file == {info.key for info in pooled}

    # A rewrite (compaction) while the pool's entries are only in the file.
    cache._file_lines = None  # the next write rewrites the file from memory
    extra = await inbox.append(generated(10_000))
    extra_info = (await inbox.snapshot()).find(extra)
    assert extra_info is not None
    await cache.structure(inbox, extra_info)  # an entry of the loop's, pending
    await cache.flush()
    assert cache._sidecar is not None
    assert set(sidecar_lines(cache._sidecar)) == {info.key for info in [*infos, extra_info]}

    cache.unload()
    cache_module._parsed.clear()
    cache_module._raw.clear()
    await render_all(inbox, snapshot)  # loaded again: a later pooled FETCH...
    cache._in_file = {info.key for info in pooled}  # ...whose entries went to the file
    for info in pooled:
        cache._stored.pop(info.key)
    cache_module._parsed.clear()

    async def no_reading(uid: int) -> bytes:
        raise AssertionError("parsed again instead of read from the sidecar")

    monkeypatch.setattr(inbox, "read", no_reading)
    for info in pooled:
        parsed = await cache.structure(inbox, info)
        assert parsed.to_json() == plain(datas[info.uid])[0]
    assert not cache._in_file  # one reload brought them all


def test_a_helper_imports_neither_asyncio_nor_the_store() -> None:
    """A helper is a fresh interpreter started inside a big FETCH: what it
    imports is CPU every first cold FETCH pays (0.1 s once it took the store)."""
    code = (
        "import sys, mailserver.imap.mime.parsehelper\n"
        "print(' '.join(m for m in sys.modules"
        " if m == 'asyncio' or m.startswith(('mailserver.storage', 'mailserver.imap.mime.cache'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == []
