"""The sidecar entry format (version 2): one line, exact round trip, old files rebuilt."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from mailserver.imap.mime import MessageCache, ParsedMessage, parsehelper
from mailserver.imap.mime import cache as cache_module
from mailserver.imap.mime import sidecar as sidecar_file
from mailserver.imap.mime.tree import Node
from tests.unit.imap.mime import test_memo
from tests.unit.imap.mime.test_cache import append_corpus, open_inbox

#: Messages whose header and renderings hold what the escaping must survive:
#: ``%`` and literal escape sequences, tabs, bare CRs, NULs, 8-bit text that is
#: not UTF-8 (surrogates once decoded), non-ASCII, and quotes in a charset.
TRICKY = [
    b"Subject: 100% sure %0A %25 %09 %0D %%0A\r\nFrom: a%b@x.org\r\n\r\nbody\r\n",
    b'Subject: tab\there\r\nTo: "Tab\tName" <t@x.org>\r\n\r\n',
    b"Subject: cr\rinside and nul \x00 here\r\n\r\nx",
    b"Subject: bad utf-8 \xc3 \xff\xfe and \xe9t\xe9\r\nFrom: \xc3\xa9 <e@x.org>\r\n\r\n",
    "Subject: caf\u00e9 \u2028 \U0001f600\r\n\r\n".encode(),
    b'Content-Type: text/plain; charset="a\\"b\tc%0A"\r\n\r\nx',
    b"Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Type: text/plain;"
    b" charset=\xff\r\n\r\n%0A\t\r\n--z\r\nContent-Type: message/rfc822\r\n\r\n"
    b"Subject: inner\t%\r\n\r\nin\r\n--z--\r\n",
]


def messages() -> list[bytes]:
    rng = random.Random(7)
    generated = [test_memo._message(rng).encode("utf-8") for _ in range(300)]
    return [*TRICKY, *test_memo._corpus(), *generated]


def test_an_entry_is_one_line_and_round_trips_exactly() -> None:
    for data in messages():
        parsed = ParsedMessage.parse(data)
        text = parsed.entry_text()
        assert "\n" not in text and "\r" not in text, data[:80]
        assert text.count("\t") == 5, data[:80]
        assert parsed.entry_bytes() == text.encode("utf-8", "surrogateescape")
        again = ParsedMessage.from_entry_text(text)
        assert again.to_json() == parsed.to_json(), data[:80]
        assert again.header == parsed.header and again.tree == parsed.tree
        assert again.envelope() == parsed.envelope()
        assert again.bodystructure(True) == parsed.bodystructure(True)


def test_the_tree_text_is_what_json_makes_of_it() -> None:
    for data in messages():
        tree = ParsedMessage.parse(data).tree
        assert tree.json_text() == json.dumps(tree.to_json(), separators=(",", ":"))
    odd = Node(0, 1, 2, 'a"b\\c\u00e9\t\udcff', "\x00\n", "x", (Node(1, 1, 1, "", None, ""),))
    assert odd.json_text() == json.dumps(odd.to_json(), separators=(",", ":"))
    assert Node.from_json(json.loads(odd.json_text())) == odd


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "1\t2",
        'x\t[0,0,1,"text/plain",null,"7bit",[],null]\ta\tb\tc\td',
        '-1\t[0,0,1,"text/plain",null,"7bit",[],null]\ta\tb\tc\td',
        '\u00b2\t[0,0,1,"text/plain",null,"7bit",[],null]\ta\tb\tc\td',
        "1\t[0,0\ta\tb\tc\td",
        '1\t[5,0,1,"text/plain",null,"7bit",[],null]\ta\tb\tc\td',
        "1\t{}\ta\tb\tc\td",
        '1\t[0,0,1,"text/plain",null,"7bit",[],null]\ta\tb\tc\td\te',
    ],
)
def test_a_malformed_entry_is_refused(bad: str) -> None:
    with pytest.raises((ValueError, TypeError)):
        ParsedMessage.from_entry_text(bad)


def test_the_helpers_file_reads_back_the_same_parses(tmp_path: Path) -> None:
    """Through a real file: appended as bytes by the helper's path, loaded as text."""
    directory = tmp_path / "cur"
    directory.mkdir()
    items: list[parsehelper.Item] = []
    expected = {}
    for number, data in enumerate(TRICKY):
        path = directory / f"m{number}"
        path.write_bytes(data)
        items.append((str(path), len(data), f"k{number}"))
        expected[f"k{number}"] = ParsedMessage.parse(data).to_json()
    sidecar = tmp_path / cache_module.SIDECAR_NAME
    results, keys = parsehelper.parse_batch(str(sidecar), items)
    assert all(result is not None for result in results) and keys == list(expected)
    entries, lines = cache_module._load_sidecar(sidecar)
    assert lines == len(TRICKY)
    assert {key: ParsedMessage.from_entry_text(e).to_json() for key, e in entries.items()} == (
        expected
    )
    # Rewritten by the event loop (a compaction) and loaded again: still the same.
    cache_module._rewrite_sidecar(sidecar, list(entries.items()))
    assert cache_module._load_sidecar(sidecar) == (entries, len(TRICKY))


async def test_a_version_1_file_is_left_and_rebuilt(tmp_path: Path) -> None:
    folder = await open_inbox(tmp_path)
    (info,) = await append_corpus(folder, "rfc3501_example")
    sidecar = tmp_path / "group1_1" / cache_module.SIDECAR_NAME
    old = f'{sidecar_file.NAME} 1\n{info.key}\t[1,"x",[],"a","b","c"]\n'
    sidecar.write_text(old)
    # The helper's appender leaves a file of another version alone.
    assert not sidecar_file.append(str(sidecar), b"k\tx\n")
    assert sidecar.read_text() == old
    cache_module._parsed.clear()
    cache = MessageCache.for_folder(folder)
    parsed = await cache.structure(folder, info)  # parsed again, not read from the old entry
    assert b"cc.diff" in parsed.bodystructure(True)
    await cache.flush()
    lines = sidecar.read_text().splitlines()
    assert lines[0] == sidecar_file.MAGIC == f"{sidecar_file.NAME} 2"
    assert ParsedMessage.from_entry_text(lines[1].split("\t", 1)[1]).to_json() == parsed.to_json()
