"""The character checks of addresses (``policy._valid_unquoted_local``,
``policy._valid_label``) are regular expressions now; they must accept and
refuse exactly what the per-character rules they replaced did."""

from __future__ import annotations

from mailserver.smtp import policy

SPECIALS = frozenset('<>()[]\\,;:"')


def old_local(local: str) -> bool:
    if not local:
        return False
    return all((ord(c) > 32 and ord(c) != 127 and c not in SPECIALS) or c == "@" for c in local)


def old_label(label: str) -> bool:
    return all(c.isalnum() or c in "-_" or ord(c) > 127 for c in label) and len(label) <= 63


CHARACTERS = [chr(n) for n in range(0, 400)] + ["\u00e9", "\u4e2d", "\U0001f600", "\udcff"]


def test_every_character_alone_and_in_a_word() -> None:
    for char in CHARACTERS:
        for text in (char, f"ab{char}", f"{char}cd", f"a{char}b"):
            assert policy._valid_unquoted_local(text) == old_local(text), repr(text)
            assert policy._valid_label(text) == old_label(text), repr(text)


def test_lengths_and_the_empty_string() -> None:
    for text in ("", "a" * 62, "a" * 63, "a" * 64, "\u00e9" * 63, "\u00e9" * 64, "a.b", "a b"):
        assert policy._valid_unquoted_local(text) == old_local(text), repr(text)
        assert policy._valid_label(text) == old_label(text), repr(text)
