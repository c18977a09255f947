"""The byte-range MIME parser: exact offsets, odd input, hostile input."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mailserver.imap.mime import structure
from mailserver.imap.mime.message import ParsedMessage
from mailserver.imap.mime.section import Section
from mailserver.imap.mime.structure import parse_message
from tests.unit.imap.mime.imapdata import crlf, read_sexp

CORPUS = Path(__file__).parents[3] / "corpus" / "mime"


def leaf_paths(body: list[object], prefix: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    if isinstance(body[0], list):
        kids = [k for k in body if isinstance(k, list)]
        out: list[tuple[int, ...]] = []
        for index, kid in enumerate(kids, 1):
            out += leaf_paths(kid, (*prefix, index))
        return out
    return [prefix or (1,)]


def assert_well_formed(data: bytes) -> ParsedMessage:
    """Parses, renders valid IMAP, and every leaf section has its reported size."""
    parsed = ParsedMessage.parse(data)
    envelope = read_sexp(parsed.envelope())
    assert isinstance(envelope, list) and len(envelope) == 10
    body = read_sexp(parsed.bodystructure(False))
    read_sexp(parsed.bodystructure(True))
    for path in leaf_paths(body):
        node = body
        for n in path if isinstance(body[0], list) else ():
            node = [k for k in node if isinstance(k, list)][n - 1]
        assert len(parsed.section(data, Section(path))) == node[6]
    return parsed


def test_offsets_of_a_simple_multipart() -> None:
    data = (
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n"
        b"pre\r\n--x\r\nContent-Type: text/plain\r\n\r\nA\r\n--x\r\n\r\nB\r\n\r\n--x--\r\nepi\r\n"
    )
    root = parse_message(data)
    assert root.body_start == data.index(b"pre")
    assert root.body_end == len(data)
    first, second = root.children
    assert data[first.header_start : first.body_start] == b"Content-Type: text/plain\r\n\r\n"
    assert data[first.body_start : first.body_end] == b"A"
    assert data[second.header_start : second.body_start] == b"\r\n"
    assert data[second.body_start : second.body_end] == b"B\r\n"
    assert (second.size, second.lines) == (3, 1)


def test_bare_lf_message_uses_its_own_octets() -> None:
    """Not what the store hands out, but the parser must not assume CRLF."""
    data = b"Content-Type: multipart/mixed; boundary=x\n\n--x\n\nline1\nline2\n--x--\n"
    root = parse_message(data)
    (part,) = root.children
    assert data[part.body_start : part.body_end] == b"line1\nline2"
    assert (part.size, part.lines) == (11, 1)


def test_lf_and_crlf_versions_agree_after_store_conversion() -> None:
    raw = (CORPUS / "bare_lf.eml").read_bytes()
    assert b"\r" not in raw
    assert ParsedMessage.parse(crlf(raw)).bodystructure(True) != ParsedMessage.parse(
        raw
    ).bodystructure(True)  # sizes differ by the CRs ...
    lf = read_sexp(ParsedMessage.parse(raw).bodystructure(False))
    cr = read_sexp(ParsedMessage.parse(crlf(raw)).bodystructure(False))
    assert lf[0][7] == cr[0][7]  # ... line counts do not


def test_boundary_prefix_match_like_dovecot() -> None:
    """A line starting with ``--boundary`` is a delimiter even with text after it."""
    data = (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\n\r\none\r\n--bogus\r\n\r\ntwo\r\n--b--\r\n"
    )
    root = parse_message(data)
    assert len(root.children) == 2


def test_inner_close_missing_outer_delimiter_ends_it() -> None:
    data = (
        b"Content-Type: multipart/mixed; boundary=out\r\n\r\n"
        b"--out\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n"
        b"--in\r\n\r\nfirst\r\n"
        b"--out\r\n\r\nsecond\r\n--out--\r\n"
    )
    root = parse_message(data)
    inner, second = root.children
    assert [data[c.body_start : c.body_end] for c in inner.children] == [b"first"]
    assert data[second.body_start : second.body_end] == b"second"


def test_digest_default_and_explicit_types() -> None:
    data = (
        b"Content-Type: multipart/digest; boundary=d\r\n\r\n"
        b"--d\r\n\r\nSubject: a\r\n\r\nx\r\n--d\r\nContent-Type: text/plain\r\n\r\ny\r\n--d--\r\n"
    )
    root = parse_message(data)
    assert [(c.type, c.subtype) for c in root.children] == [
        ("message", "rfc822"),
        ("text", "plain"),
    ]
    assert root.children[0].message is not None
    assert root.children[0].message.value("Subject") == "a"


@pytest.mark.parametrize(
    "content_type",
    [b"text", b"/plain", b"text/", b"te xt/plain", b"text/pl@in", b"", b";charset=utf-8"],
)
def test_broken_content_type_is_text_plain(content_type: bytes) -> None:
    part = parse_message(b"Content-Type: " + content_type + b"\r\n\r\nbody\r\n")
    assert (part.type, part.subtype) == ("text", "plain")
    assert part.param("charset") is None


def test_deep_nesting_is_bounded() -> None:
    depth = 500
    head = b"".join(
        b"--q%dq\r\nContent-Type: multipart/mixed; boundary=q%dq\r\n\r\n" % (i, i + 1)
        for i in range(depth)
    )
    data = (
        b"Content-Type: multipart/mixed; boundary=q0q\r\n\r\n"
        + head
        + b"--q%dq\r\n\r\nleaf\r\n" % depth
    )
    parsed = assert_well_formed(data)
    assert parsed.bodystructure(False).count(b"(") <= structure.MAX_DEPTH + 5
    assert b"OCTET-STREAM" in parsed.bodystructure(False)


def test_deeply_nested_messages_are_bounded() -> None:
    data = b"Content-Type: message/rfc822\r\n\r\n" * 300 + b"Subject: core\r\n\r\nx\r\n"
    parsed = assert_well_formed(data)
    assert b"OCTET-STREAM" in parsed.bodystructure(True)


def test_part_count_is_bounded() -> None:
    data = (
        b"Content-Type: multipart/mixed; boundary=p\r\n\r\n"
        + b"--p\r\n\r\nx\r\n" * 20000
        + b"--p--\r\n"
    )
    parsed = assert_well_formed(data)
    body = read_sexp(parsed.bodystructure(False))
    kids = [k for k in body if isinstance(k, list)]
    assert len(kids) == structure.MAX_PARTS
    assert kids[-1][:2] == [b"APPLICATION", b"OCTET-STREAM"]


def test_many_false_delimiters_stay_linear() -> None:
    lines = b"--not-it\r\n" * 200000
    data = (
        b"Content-Type: multipart/mixed; boundary=real\r\n\r\n--real\r\n\r\n"
        + lines
        + b"--real--\r\n"
    )
    root = parse_message(data)
    assert root.children[0].size == len(lines) - 2


@pytest.mark.parametrize("seed", range(40))
def test_mutated_corpus_never_breaks(seed: int) -> None:
    rng = random.Random(seed)
    files = sorted(CORPUS.glob("*.eml"))
    data = bytearray(crlf(files[seed % len(files)].read_bytes()))
    for _ in range(rng.randrange(1, 30)):
        op = rng.randrange(4)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            del data[pos : pos + rng.randrange(1, 40)]
        elif op == 1:
            data[pos:pos] = rng.choice(
                [
                    b"\r\n",
                    b"\r\n\r\n",
                    b"--",
                    b'"',
                    b"(",
                    b"=?utf-8?B?",
                    b"\xff\xfe",
                    b";",
                    b"\x00",
                    b"\n",
                ]
            )
        elif op == 2 and data:
            data[pos : pos + 1] = bytes([rng.randrange(256)])
        else:
            chunk = bytes(data[rng.randrange(len(data) + 1) :][: rng.randrange(200)])
            data[pos:pos] = chunk
    assert_well_formed(bytes(data))


@pytest.mark.parametrize(
    "data",
    [b"", b"\r\n", b"\r\n\r\n", b"no header at all", b"Subject", b":", b" folded first\r\n\r\nx",
     b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n", b"\x00" * 100],
)  # fmt: skip
def test_degenerate_messages(data: bytes) -> None:
    assert_well_formed(data)


def test_header_without_colon_does_not_end_the_header() -> None:
    part = parse_message(b"Subject: a\r\nbroken line\r\nFrom: b@c\r\n\r\nbody")
    assert part.value("From") == "b@c"
    assert part.size == 4


def test_message_global_is_an_encapsulated_message() -> None:
    """RFC 9051 7.5.2 / RFC 6532 3.7: message/global carries ENVELOPE, BODYSTRUCTURE
    and lines like message/rfc822, and its parts are addressable (BODY[1.1])."""
    inner = "Subject: Grüße\r\nFrom: a@b\r\n\r\nhallo\r\n".encode()
    data = (
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\n'
        b"Content-Type: message/global\r\n\r\n" + inner + b"--x--\r\n"
    )
    parsed = ParsedMessage.parse(data)
    structure_text = parsed.bodystructure(False)
    assert b'"MESSAGE" "GLOBAL"' in structure_text
    assert b'"TEXT" "PLAIN"' in structure_text  # the inner message's own structure
    assert parsed.section(data, Section(part=(1, 1))) == b"hallo"  # CRLF: the boundary's
    header = inner[: inner.index(b"\r\n\r\n") + 4]
    assert parsed.section(data, Section(part=(1,), text="HEADER")) == header
