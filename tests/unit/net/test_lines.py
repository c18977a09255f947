"""``apply_backspaces``: a command line edited as the student's terminal shows it."""

from __future__ import annotations

import pytest

from mailserver.net.lines import apply_backspaces


@pytest.mark.parametrize(
    ("typed", "seen"),
    [
        (b"nooq\x08p", b"noop"),
        (b"user group1_x\x082", b"user group1_2"),
        (b"user group1_x\x7f2", b"user group1_2"),
        (b"\x08\x7fquit", b"quit"),  # nothing to erase at the start of the line
        (b"abc\x08\x08\x08\x08", b""),
        ("caf\u00e9\x08e".encode(), b"cafe"),  # a whole UTF-8 character goes
        ("\U0001f600\x7fx".encode(), b"x"),
        (b"a\x80\x80\x08", b"a\x80"),  # a stray byte counts as one character
        (b"plain line", b"plain line"),
    ],
)
def test_erasers_remove_the_character_before_them(typed: bytes, seen: bytes) -> None:
    assert apply_backspaces(typed) == seen


def test_a_line_without_erasers_is_returned_as_is() -> None:
    line = b"a1 LOGIN group1_1 group1_1"
    assert apply_backspaces(line) is line
