"""SORT criteria (RFC 5256 3; DISPLAYFROM/DISPLAYTO from RFC 5957) applied to facts.

Strings compare with ``i;ascii-casemap`` (RFC 5256's default collation),
display names with Unicode case folding (RFC 5957 asks for the
``i;unicode-casemap`` collation); messages equal by every criterion stay in
sequence-number order, whatever REVERSE says.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

from mailserver.imap.sorting.facts import Facts

_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def ascii_casemap(text: str) -> str:
    return text.translate(_ASCII_UPPER)


def unicode_casemap(text: str) -> str:
    """RFC 5051's i;unicode-casemap, near enough: case folded, then decomposed (NFKD),
    so "Émile" sorts among the E's."""
    return unicodedata.normalize("NFKD", text.casefold())


KEYS: dict[str, Callable[[Facts], object]] = {
    "ARRIVAL": lambda f: f.arrival,
    "CC": lambda f: ascii_casemap(f.cc),
    "DATE": lambda f: f.sent,
    "FROM": lambda f: ascii_casemap(f.from_),
    "SIZE": lambda f: f.size,
    "SUBJECT": lambda f: ascii_casemap(f.subject),
    "TO": lambda f: ascii_casemap(f.to),
    "DISPLAYFROM": lambda f: unicode_casemap(f.display_from),
    "DISPLAYTO": lambda f: unicode_casemap(f.display_to),
}


def sort_facts(facts: Sequence[Facts], criteria: Sequence[tuple[str, bool]]) -> list[Facts]:
    """``facts`` ordered by ``(key, reverse)`` criteria, most significant first."""
    ordered = sorted(facts, key=lambda f: f.seq)
    # Stable sorts from the least significant key up; reverse=True keeps ties in order.
    for name, reverse in reversed(criteria):
        ordered.sort(key=KEYS[name], reverse=reverse)  # type: ignore[arg-type]
    return ordered
