"""The fast cold parse (memos, only the fields needed) answers byte for byte what a full one does.

Differential: every corpus message and a few thousand generated ones are
parsed the plain way -- memos off, every header field kept, BODY and
BODYSTRUCTURE rendered separately -- for a reference, then twice the fast
way (cold memos, then every step a hit); the whole parsed form (ENVELOPE,
BODY, BODYSTRUCTURE, header block and part tree) must be identical. The
generated messages draw their header values from small pools on purpose,
so the same value turns up in different contexts (a parameter list on a
text part and on an application part, an empty ``Sender`` next to a full
``From``) and a memo that keyed on too little would be caught; they mix in
fields the fast parse drops, colon-less lines and non-ASCII names.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mailserver.imap.mime import memo, render
from mailserver.imap.mime.headers import _field, parse_fields
from mailserver.imap.mime.message import ParsedMessage
from mailserver.imap.mime.structure import Part, _Parser, parse_message
from mailserver.imap.mime.tree import Node
from tests.unit.imap.mime.imapdata import crlf

CORPUS = Path(__file__).parents[3] / "corpus" / "mime"
MEMOS = tuple(memo.REGISTRY)
GENERATED = 3000


@pytest.fixture(autouse=True)
def _fresh_memos() -> Iterator[None]:
    for m in MEMOS:
        m.clear()
    yield
    for m in MEMOS:
        m.clear()


def _forget_blocks(part: Part) -> None:
    part.block = None
    for child in part.children:
        _forget_blocks(child)
    if part.message is not None:
        _forget_blocks(part.message)


def _reference(data: bytes) -> list[Any]:
    """The parse with every memo disabled: each step computed afresh."""
    saved = [m.max_key for m in MEMOS]
    try:
        for m in MEMOS:
            m.max_key = -1
        root = parse_message(data)  # every field kept
        _forget_blocks(root)  # every part rendered field by field, not by its header block
        result = ParsedMessage(
            len(data),
            data[root.header_start : root.body_start],
            Node.of(root),
            render.envelope(root.fields),
            render.bodystructure(root, extended=False),
            render.bodystructure(root, extended=True),
        ).to_json()
        assert all(len(m) == 0 for m in MEMOS)
        return result
    finally:
        for m, max_key in zip(MEMOS, saved, strict=True):
            m.max_key = max_key


# ------------------------------------------------------------------ the Memo


def test_memo_returns_the_function_value_and_remembers_it() -> None:
    calls: list[str] = []

    def shout(text: str) -> str:
        calls.append(text)
        return text.upper()

    shouting = memo.Memo(shout, max_items=3, max_key=5)
    assert shouting("ab") == "AB"
    assert shouting("ab") == "AB"
    assert calls == ["ab"]
    assert len(shouting) == 1


def test_memo_skips_long_keys_and_empties_itself_when_full() -> None:
    calls: list[str] = []

    def echo(text: str) -> str:
        calls.append(text)
        return text

    echoing = memo.Memo(echo, max_items=3, max_key=5)
    assert echoing("too long") == "too long"
    assert echoing("too long") == "too long"
    assert calls == ["too long", "too long"]
    assert len(echoing) == 0
    for key in ("a", "b", "c", "d"):
        echoing(key)
    assert len(echoing) <= 3
    assert len(echoing) >= 1


def test_memo_skips_big_rendered_results() -> None:
    commas = "," * 200 + "a"
    assert memo.address_list(commas) == memo._render_addresses(commas)
    assert len(memo._render_addresses(commas)) <= memo.MAX_VALUE  # one address only
    memo.address_list.clear()
    many = ",".join(["a"] * 120)
    rendered = memo.address_list(many)
    assert len(rendered) > memo.MAX_VALUE
    assert len(memo.address_list) == 0
    assert memo.address_list(many) == rendered


# ------------------------------------------------------------- differential


def _corpus() -> list[bytes]:
    out: list[bytes] = []
    for path in sorted(CORPUS.glob("*.eml")):
        raw = path.read_bytes()
        out += [raw, crlf(raw), raw.replace(b"\r\n", b"\n")]
    return out


def test_corpus_is_rendered_identically_with_memos() -> None:
    messages = _corpus()
    assert len(messages) >= 60
    references = [_reference(data) for data in messages]
    for _ in range(2):  # cold memos, then warm ones
        for data, expected in zip(messages, references, strict=True):
            assert ParsedMessage.parse(data).to_json() == expected, data[:200]
    assert all(len(m) > 0 for m in MEMOS)


ADDRESSES = [
    "Alice <alice@example.org>",
    "alice@example.org",
    "ALICE@EXAMPLE.ORG (Alice A.)",
    '"Bob, Jr." <bob@example.net>, carol@example.com',
    "=?utf-8?q?J=C3=B6rg?= <joerg@example.de>",
    "undisclosed-recipients:;",
    "team: dan@example.org, erin@example.org;, frank@example.org",
    "<@relay.example:gina@example.org>",
    '"odd \\" quote"@example.org',
    "no-domain",
    "",
    " ",
    "Ж <zh@example.ru>",
    "broken <unclosed@example.org",
    "(only a comment)",
]
SUBJECTS = ["hello", "=?utf-8?q?h=C3=A9?=", 'a "q"', ""]
TYPES = ["text", "TEXT", "application", "image", "audio", "x-odd", "text/", ""]
SUBTYPES = ["plain", "html", "Octet-Stream", "png", "x-thing", ""]
PARAMS = [
    "",
    "; charset=utf-8",
    '; CHARSET="us-ascii"',
    "; name=a.bin",
    "; name*=utf-8''%C3%A4.txt",
    '; title*0="part one "; title*1="and two"',
    "; charset=utf-8 (a comment); format=flowed",
    '; name="x \\"y\\" z"; charset=iso-8859-1',
    "; a=1; A=2",
]
DISPOSITIONS = [None, "inline", "attachment", 'attachment; filename="r.pdf"', "", "INLINE; size=3"]
ENCODINGS = [None, "7bit", "BASE64", "quoted-printable", "x-uuencode", "8bit (x)", "bad value"]
OTHER = {
    "Content-ID": [None, "<id1@example.org>", ""],
    "Content-Description": [None, "A description", "=?utf-8?b?w6Q=?="],
    "Content-Language": [None, "en", "en, de", '"fr"', ""],
    "Content-Location": [None, "http://example.org/a\r\n b", ""],
    "Content-MD5": [None, "Q2hlY2sgSW50ZWdyaXR5IQ=="],
}


def _name(rng: random.Random, name: str) -> str:
    return rng.choice([name, name.lower(), name.upper()])


def _mime_headers(rng: random.Random, content_type: str | None) -> list[str]:
    lines: list[str] = []
    if content_type is not None:
        lines.append(f"{_name(rng, 'Content-Type')}: {content_type}")
    disposition = rng.choice(DISPOSITIONS)
    if disposition is not None:
        lines.append(f"Content-Disposition: {disposition}")
    encoding = rng.choice(ENCODINGS)
    if encoding is not None:
        lines.append(f"{_name(rng, 'Content-Transfer-Encoding')}: {encoding}")
    for name, values in OTHER.items():
        value = rng.choice(values)
        if value is not None and rng.random() < 0.4:
            lines.append(f"{name}: {value}")
    if rng.random() < 0.3:
        lines.append(rng.choice(EXTRA))
        rng.shuffle(lines)
    return lines


def _leaf_type(rng: random.Random) -> str | None:
    if rng.random() < 0.15:
        return None
    return f"{rng.choice(TYPES)}/{rng.choice(SUBTYPES)}{rng.choice(PARAMS)}"


def _entity(rng: random.Random, depth: int) -> str:
    """Header lines + blank line + body of one MIME entity."""
    roll = rng.random()
    if depth < 3 and roll < 0.3:
        boundary = rng.choice(["b1", "==b2==", "b1x", "outer"]) + str(depth)
        subtype = rng.choice(["mixed", "alternative", "related", "digest", "MIXED"])
        content_type = f'multipart/{subtype}; boundary="{boundary}"{rng.choice(PARAMS)}'
        children = [_entity(rng, depth + 1) for _ in range(rng.randint(0, 3))]
        body = "preamble\r\n" if rng.random() < 0.3 else ""
        for child in children:
            body += f"--{boundary}\r\n{child}\r\n"
        if rng.random() < 0.8:
            body += f"--{boundary}--\r\n"
        header = _mime_headers(rng, content_type)
    elif depth < 3 and roll < 0.4:
        header = _mime_headers(rng, "message/rfc822")
        body = _message(rng, depth + 1)
    else:
        header = _mime_headers(rng, _leaf_type(rng))
        body = "".join(f"line {n} of the body\r\n" for n in range(rng.randint(0, 4)))
    return "\r\n".join(header) + "\r\n\r\n" + body


EXTRA = [
    "Received: from a.example by b.example; Mon, 7 Dec 2026 10:00:00 +0000",
    "Received: from c.example\r\n\tby d.example",
    "X-Mailer: test",
    "DKIM-Signature: v=1; a=rsa-sha256;\r\n b=AAAA",
    "From",  # no colon: a field named "From" with an empty value
    "Subject",
    "To : spaced@example.org",
    "cOnTeNt-TyPe: text/x-odd",
    "Content-Type",
    "Content-Transfer-Encoding : base64",
    "\u212aeywords: kelvin",
    "Ünïcode: value",
    "X-Empty:",
]


def _message(rng: random.Random, depth: int = 0) -> str:
    lines = [rng.choice(EXTRA) for _ in range(rng.choice([0, 0, 1, 3]))]
    for name in ("From", "Sender", "Reply-To", "To", "Cc", "Bcc"):
        if rng.random() < 0.6:
            lines.append(f"{_name(rng, name)}: {rng.choice(ADDRESSES)}")
    if rng.random() < 0.8:
        lines.append("Date: Mon, 7 Dec 2026 10:00:00 +0000")
    if rng.random() < 0.8:
        lines.append("Subject: " + rng.choice(SUBJECTS))
    if rng.random() < 0.5:
        lines.append(f"Message-ID: <{rng.randint(1, 50)}@example.org>")
    if rng.random() < 0.2:
        lines.append("In-Reply-To: <1@example.org>")
    rng.shuffle(lines)
    entity = _entity(rng, depth)
    return "\r\n".join(lines) + ("\r\n" if lines else "") + entity


def test_generated_messages_are_rendered_identically_with_memos() -> None:
    rng = random.Random(13)
    messages = []
    for _ in range(GENERATED):
        text = _message(rng).encode("utf-8")
        messages.append(text if rng.random() < 0.7 else text.replace(b"\r\n", b"\n"))
    references = [_reference(data) for data in messages]
    for _ in range(2):
        for data, expected in zip(messages, references, strict=True):
            assert ParsedMessage.parse(data).to_json() == expected, data[:300]
    # The pools made values repeat: the memos were exercised, not bypassed.
    assert all(len(m) > 0 for m in MEMOS)


def _reference_fields(block: bytes) -> list[tuple[bytes, bytes]]:
    """The line-by-line field split the regex scan replaced: (raw, value) pairs."""
    raws: list[bytes] = []
    pos, end, start = 0, len(block), -1
    while pos < end:
        nl = block.find(b"\n", pos)
        line_end = end if nl < 0 else nl + 1
        if not block[pos:line_end].rstrip(b"\r\n"):
            break
        if block[pos : pos + 1] in (b" ", b"\t") and start >= 0:
            pos = line_end
            continue
        if start >= 0:
            raws.append(block[start:pos])
        start = pos
        pos = line_end
    if start >= 0:
        raws.append(block[start:pos])
    return [(f.raw, f.value) for f in map(_field, raws)]


PIECES = [b"A: 1", b"From: x@y", b" cont", b"\tcont", b"", b"\r", b"\r\r", b"no colon", b" "]
ENDS = [b"\n", b"\r\n", b"\r\r\n", b"\r"]


def test_field_split_matches_the_line_by_line_split() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        lines = [rng.choice(PIECES) + rng.choice(ENDS) for _ in range(rng.randint(0, 6))]
        block = b"".join(lines) + rng.choice([b"", b"tail", b" tail"])
        got = [(f.raw, f.value) for f in parse_fields(block)]
        assert got == _reference_fields(block), block


def _reference_header_end(data: bytes) -> int:
    """Where the line-by-line walk ends a top-level header: after its blank line."""
    pos, end = 0, len(data)
    while pos < end:
        nl = data.find(b"\n", pos, end)
        line_end = end if nl < 0 else nl + 1
        if data[pos:line_end].rstrip(b"\r\n") == b"":
            return line_end
        pos = line_end
    return end


def test_top_level_header_end_matches_the_line_by_line_walk() -> None:
    rng = random.Random(11)
    for _ in range(5000):
        lines = [rng.choice(PIECES) + rng.choice(ENDS) for _ in range(rng.randint(0, 6))]
        data = b"".join(lines) + rng.choice([b"", b"body", b"\r", b"\n\nbody"])
        header_end, body_start, stop = _Parser(data)._header(0, len(data), [])
        expected = _reference_header_end(data)
        assert (header_end, body_start, stop) == (expected, expected, None), data
