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
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from mailserver.imap.mime import MessageCache, ParsedMessage, pool
from mailserver.imap.mime import cache as cache_module
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
    parse_pool.shutdown()


@pytest.fixture
async def inbox(tmp_path: Path) -> AsyncIterator[Folder]:
    folder = await (await MaildirStore(tmp_path).mailbox("group1_1")).folder(INBOX)
    for data in messages():
        await folder.append(data)
    yield folder
    await MessageCache.for_folder(folder).flush()


def plain(data: bytes) -> tuple[list[object], str]:
    parsed = ParsedMessage.parse(data)
    return parsed.to_json(), json.dumps(parsed.to_json(), separators=(",", ":"))


async def test_pool_parses_like_the_process(
    inbox: Folder, real_pool: pool.ParsePool, tmp_path: Path
) -> None:
    infos = list((await inbox.snapshot()).messages)
    paths = await inbox.message_paths(info.uid for info in infos)
    assert set(paths) == {info.uid for info in infos}
    items = [(paths[info.uid], info.size) for info in infos]
    results = await real_pool.parse(items)
    assert results is not None and real_pool.running
    assert len(results) == len(infos)
    for info, result in zip(infos, results, strict=True):
        assert result is not None
        size, envelope, body, bodystructure, entry, persist = result
        data = await inbox.read(info.uid)
        expected_json, expected_entry = plain(data)
        assert entry == expected_entry
        assert persist
        whole = ParsedMessage.parse(data)
        assert (size, envelope, body, bodystructure) == (
            whole.size,
            whole.envelope(),
            whole.bodystructure(False),
            whole.bodystructure(True),
        )
        lazy = ParsedMessage.from_entry(size, envelope, body, bodystructure, entry)
        assert lazy.to_json() == expected_json
        estimate = lazy.weight()
        assert lazy.header == whole.header and lazy.tree == whole.tree  # unpacked on demand
        assert lazy.to_json() == expected_json
        assert estimate >= lazy.weight() == whole.weight()
        assert lazy.header_value("Subject") == whole.header_value("Subject")


async def test_gone_or_changed_files_come_back_as_none(
    inbox: Folder, real_pool: pool.ParsePool
) -> None:
    info = (await inbox.snapshot()).messages[0]
    path = (await inbox.message_paths([info.uid]))[info.uid]
    results = await real_pool.parse(
        [(path, info.size + 1), (path + ".gone", info.size), (path, info.size)]
    )
    assert results is not None
    assert results[0] is None and results[1] is None and results[2] is not None


async def test_a_broken_pool_falls_back_and_is_replaced(inbox: Folder) -> None:
    info = (await inbox.snapshot()).messages[0]
    path = (await inbox.message_paths([info.uid]))[info.uid]
    parse_pool = pool.ParsePool(workers=1)
    try:
        assert await parse_pool.parse([(path, info.size)]) is not None
        executor = parse_pool._executor
        assert executor is not None
        for pid in list(executor._processes):  # a worker killed from outside
            os.kill(pid, 9)
        with pytest.raises(Exception):  # noqa: B017 - whatever the executor raises
            await asyncio.wrap_future(executor.submit(pool.parse_files, []))
        assert await parse_pool.parse([(path, info.size)]) is None  # reported, dropped
        assert not parse_pool.running
        again = await parse_pool.parse([(path, info.size)])  # a fresh pool
        assert again is not None and again[0] is not None
    finally:
        parse_pool.shutdown()


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
                parsed = await cache.structure(folder, info)
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

    async def counting(items: list[tuple[str, int]]) -> list[pool.Parsed | None] | None:
        nonlocal pooled
        results = await original(items)
        pooled += sum(1 for r in results or [] if r is not None)
        return results

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
    assert set(cache._stored) == {info.key for info in infos}
    cache_module._parsed.clear()
    fresh = MessageCache(cache._sidecar.parent if cache._sidecar else None)
    for info in infos:
        parsed = await fresh.structure(inbox, info)
        assert (parsed.envelope(), parsed.bodystructure(False), parsed.bodystructure(True)) == (
            want[info.uid]
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
