"""The MIME corpus: ENVELOPE, BODY, BODYSTRUCTURE, sections and SEARCH per message.

Expected values live in ``tests/corpus/mime/expected.py``; sizes and line
counts are also recomputed here with an independent naive splitter, and every
leaf's ``BODY[part]`` must be exactly as long as its BODYSTRUCTURE size.
"""

from __future__ import annotations

import datetime
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

from mailserver.imap.mime.message import ParsedMessage
from mailserver.imap.mime.section import Section
from tests.unit.imap.mime.imapdata import Placeholder, RefPart, crlf, read_sexp, reference

CORPUS = Path(__file__).parents[3] / "corpus" / "mime"


def _load_expected() -> dict[str, dict[str, Any]]:
    spec = importlib.util.spec_from_file_location("mime_corpus_expected", CORPUS / "expected.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cases: dict[str, dict[str, Any]] = module.CASES
    return cases


CASES = _load_expected()
ENVELOPE_FIELDS = (
    "date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to", "message-id",
)  # fmt: skip
SINGLE_FIELDS = ("type", "subtype", "params", "id", "description", "encoding", "size")
EXTENSION_FIELDS = ("md5", "disposition", "language", "location")
MULTI_EXTENSION_FIELDS = ("params", "disposition", "language", "location")


def message(name: str) -> bytes:
    return crlf((CORPUS / f"{name}.eml").read_bytes())


def parse_spec(spec: str) -> Section:
    match = re.fullmatch(r"((?:\d+\.)*\d+)?\.?([A-Z.]+)?(?: \((.*)\))?", spec)
    assert match is not None, spec
    numbers, text, fields = match.groups()
    part = tuple(int(n) for n in numbers.split(".")) if numbers else ()
    return Section(part, text, tuple(fields.split()) if fields else ())


def test_corpus_has_every_message_and_enough_of_them() -> None:
    files = {p.stem for p in CORPUS.glob("*.eml")}
    assert files == set(CASES)
    assert len(files) >= 20


def compare_envelope(actual: Any, expected: Any, where: str) -> None:
    assert isinstance(actual, list) and len(actual) == 10, f"{where}: {actual!r}"
    for name, a, e in zip(ENVELOPE_FIELDS, actual, expected, strict=True):
        assert a == e, f"{where} envelope {name}: {a!r} != {e!r}"


def compare_number(actual: Any, expected: Any, reference: int | None, where: str) -> None:
    assert isinstance(actual, int), f"{where}: {actual!r} is not a number"
    if reference is not None:
        assert actual == reference, f"{where}: {actual} but the reference splitter says {reference}"
    if isinstance(expected, Placeholder):
        assert reference is not None, f"{where}: placeholder without a reference"
    else:
        assert actual == expected, f"{where}: {actual} != {expected}"


def compare_body(
    actual: Any, expected: Any, ref: RefPart | None, where: str, extended: bool
) -> None:
    assert isinstance(actual, list) and isinstance(expected, list), where
    if isinstance(expected[0], list):
        kids_expected = expected[: _leading_lists(expected)]
        kids_actual = actual[: _leading_lists(actual)]
        assert len(kids_actual) == len(kids_expected), f"{where}: {len(kids_actual)} parts"
        if ref is not None:
            assert len(ref.children) == len(kids_expected), (
                f"{where}: reference has {len(ref.children)}"
            )
        for index, (a, e) in enumerate(zip(kids_actual, kids_expected, strict=True), 1):
            child_ref = ref.children[index - 1] if ref is not None else None
            compare_body(a, e, child_ref, f"{where}.{index}".lstrip("."), extended)
        rest_a, rest_e = actual[len(kids_actual) :], expected[len(kids_expected) :]
        multi = ["subtype", *MULTI_EXTENSION_FIELDS] if extended else ["subtype"]
        assert len(rest_a) == len(multi), f"{where}: multipart fields {rest_a!r}"
        for name, a, e in zip(multi, rest_a, rest_e, strict=True):
            assert a == e, f"{where or 'root'} {name}: {a!r} != {e!r}"
        return
    names = list(SINGLE_FIELDS)
    kind = (expected[0], expected[1])
    if kind == (b"MESSAGE", b"RFC822"):
        names += ["envelope", "body", "lines"]
    elif expected[0] == b"TEXT":
        names += ["lines"]
    if extended:
        names += list(EXTENSION_FIELDS)
    label = where or "1"
    assert len(actual) == len(names), (
        f"part {label}: {actual!r} has {len(actual)} fields, want {names}"
    )
    assert len(expected) == len(names), f"part {label}: bad expectation {expected!r}"
    for name, a, e in zip(names, actual, expected, strict=True):
        if name == "size":
            compare_number(a, e, ref.size if ref else None, f"part {label} size")
        elif name == "lines":
            compare_number(a, e, ref.lines if ref else None, f"part {label} lines")
        elif name == "envelope":
            compare_envelope(a, e, f"part {label}")
        elif name == "body":
            inner = ref.message if ref is not None else None
            compare_body(a, e, inner, f"{where}.inner" if where else "inner", extended)
        else:
            assert a == e, f"part {label} {name}: {a!r} != {e!r}"


def _leading_lists(items: list[Any]) -> int:
    count = 0
    for item in items:
        if not isinstance(item, list):
            break
        count += 1
    return count


def strip_extensions(body: Any) -> Any:
    """BODYSTRUCTURE -> BODY: what the non-extensible form must be."""
    if isinstance(body[0], list):
        kids = _leading_lists(body)
        return [strip_extensions(k) for k in body[:kids]] + [body[kids]]
    if (body[0], body[1]) == (b"MESSAGE", b"RFC822"):
        return [*body[:7], body[7], strip_extensions(body[8]), body[9]]
    return body[:8] if body[0] == b"TEXT" else body[:7]


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any], bytes, ParsedMessage]:
    name: str = request.param
    data = message(name)
    return name, CASES[name], data, ParsedMessage.parse(data)


def test_envelope(case: tuple[str, dict[str, Any], bytes, ParsedMessage]) -> None:
    name, expected, _, parsed = case
    compare_envelope(read_sexp(parsed.envelope()), read_sexp(expected["envelope"]), name)


def test_bodystructure(case: tuple[str, dict[str, Any], bytes, ParsedMessage]) -> None:
    _name, expected, data, parsed = case
    ref = None if expected.get("skip_reference") else reference(data)
    actual = read_sexp(parsed.bodystructure(True))
    compare_body(actual, read_sexp(expected["bodystructure"]), ref, "", extended=True)


def test_body_is_bodystructure_without_extensions(
    case: tuple[str, dict[str, Any], bytes, ParsedMessage],
) -> None:
    _name, expected, data, parsed = case
    body = read_sexp(parsed.bodystructure(False))
    assert body == strip_extensions(read_sexp(parsed.bodystructure(True)))
    if "body" in expected:
        ref = None if expected.get("skip_reference") else reference(data)
        compare_body(body, read_sexp(expected["body"]), ref, "", extended=False)


def _leaf_paths(body: Any, prefix: tuple[int, ...]) -> list[tuple[tuple[int, ...], int]]:
    if isinstance(body[0], list):
        out = []
        for index, kid in enumerate(body[: _leading_lists(body)], 1):
            out += _leaf_paths(kid, (*prefix, index))
        return out
    return [(prefix or (1,), body[6])]


def test_every_leaf_section_is_as_long_as_its_size(
    case: tuple[str, dict[str, Any], bytes, ParsedMessage],
) -> None:
    _, _, data, parsed = case
    for path, size in _leaf_paths(read_sexp(parsed.bodystructure(False)), ()):
        assert len(parsed.section(data, Section(path))) == size, path


def test_sections(case: tuple[str, dict[str, Any], bytes, ParsedMessage]) -> None:
    name, expected, data, parsed = case
    assert parsed.section(data, Section()) == data
    header_end = data.find(b"\r\n\r\n")
    if header_end >= 0:
        assert parsed.section(data, Section(text="HEADER")) == data[: header_end + 4]
        assert parsed.section(data, Section(text="TEXT")) == data[header_end + 4 :]
    for spec, value in expected.get("sections", {}).items():
        got = parsed.section(data, parse_spec(spec))
        assert got == crlf(value), f"{name} BODY[{spec}]: {got!r}"


def test_header_values_and_date(case: tuple[str, dict[str, Any], bytes, ParsedMessage]) -> None:
    name, expected, _, parsed = case
    for field, value in expected.get("headers", {}).items():
        assert parsed.header_value(field) == value, f"{name} {field}"
        assert parsed.header_value(field.upper()) == value
    if "date" in expected:
        want = expected["date"]
        got = parsed.date()
        assert (got.isoformat() if got else None) == want
        if got is not None:
            assert got.date() == datetime.date.fromisoformat(want[:10])


def test_search(case: tuple[str, dict[str, Any], bytes, ParsedMessage]) -> None:
    name, expected, data, parsed = case
    for field, needle, hit in expected.get("search_header", []):
        assert parsed.contains_header(field, needle) is hit, f"{name} HEADER {field} {needle!r}"
    for needle, hit in expected.get("search_body", []):
        assert parsed.contains_body(data, needle) is hit, f"{name} BODY {needle!r}"
        if hit:
            assert parsed.contains_text(data, needle), f"{name} TEXT {needle!r}"
    for needle, hit in expected.get("search_text", []):
        assert parsed.contains_text(data, needle) is hit, f"{name} TEXT {needle!r}"
