"""Seeded fuzz of the IMAP command parser: random and mutated commands and literals.

Whatever the bytes, ``parse_command`` returns a command or an
``InvalidCommand`` -- it never raises -- and a refusal's reason is one short
line, so echoing it can never inject a response. More inputs on demand:
``IMAP_FUZZ_ITERATIONS=1000000 IMAP_FUZZ_SEED=7 pytest tests/unit/imap/test_parser_fuzz.py``.
"""

from __future__ import annotations

from mailserver.imap.mime import section_label
from mailserver.imap.parser.base import Command
from mailserver.imap.parser.commands import Fetch, InvalidCommand, parse_command
from tests.support.imapfuzz import CORPUS, ITERATIONS, SEED, Mutator


def check(data: bytes, utf8: bool) -> None:
    try:
        parsed = parse_command(data, utf8_names=utf8)
    except Exception as exc:  # the finding: report the input that raised
        raise AssertionError(f"parse_command raised {exc!r} on {data!r}") from exc
    assert isinstance(parsed, Command | InvalidCommand), data
    if isinstance(parsed, InvalidCommand):
        assert parsed.status in ("BAD", "NO"), data
        assert len(parsed.reason) <= 200, data
        assert "\r" not in parsed.reason and "\n" not in parsed.reason, data
        assert parsed.tag is None or ("\r" not in parsed.tag and " " not in parsed.tag), data
    if isinstance(parsed, Fetch):
        # Section labels are echoed in the response: printable ASCII only.
        for item in parsed.items:
            section = getattr(item, "section", None)
            if section is not None:
                label = section_label(section)
                assert label.isascii() and label.isprintable(), data


def test_corpus_is_valid() -> None:
    # A corpus of broken commands would fuzz only the first error path.
    for data in CORPUS:
        parsed = parse_command(data)
        assert isinstance(parsed, Command), (data, parsed)


def test_mutated_commands_never_raise() -> None:
    mutator = Mutator(SEED)
    for i in range(ITERATIONS):
        check(mutator.input(), utf8=i % 7 == 0)
