"""SORT criteria (RFC 5256 3; DISPLAYFROM/DISPLAYTO from RFC 5957) applied to facts.

Strings compare with ``i;unicode-casemap`` (RFC 5051), as Dovecot does (it
announces I18NLEVEL=1): decomposed, then each character upper-cased on its
own, so "Ägypten" sorts after "Apfel" and "éclair" after "eve", exactly as
Dovecot orders them; for ASCII this is RFC 5256's ``i;ascii-casemap``.
Messages equal by every criterion stay in sequence-number order, whatever
REVERSE says.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache

from mailserver.imap.sorting.facts import Facts


@lru_cache(maxsize=65536)
def unicode_casemap(text: str) -> str:
    """RFC 5051 near enough: NFKD, then the simple (one-character) upper case of
    each character, so "ß" stays "ß" (Dovecot's titlecase map does the same)."""
    out = []
    for char in unicodedata.normalize("NFKD", text):
        upper = char.upper()
        out.append(upper if len(upper) == 1 else char)
    return "".join(out)


KEYS: dict[str, Callable[[Facts], object]] = {
    "ARRIVAL": lambda f: f.arrival,
    "CC": lambda f: unicode_casemap(f.cc),
    "DATE": lambda f: f.sent,
    "FROM": lambda f: unicode_casemap(f.from_),
    "SIZE": lambda f: f.size,
    "SUBJECT": lambda f: unicode_casemap(f.subject),
    "TO": lambda f: unicode_casemap(f.to),
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
