"""``RETURN (...)`` of SEARCH and SORT: ESEARCH (RFC 4731), ESORT and CONTEXT
(RFC 5267: PARTIAL, UPDATE, CONTEXT) and SEARCHRES's SAVE (RFC 5182).

One grammar for both commands, so an option added here works for both.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailserver.imap.parser.lexer import Cursor, ParseError

#: ESEARCH data options, SEARCHRES SAVE, and RFC 5267's UPDATE and CONTEXT (a hint).
RETURN_OPTIONS = frozenset({"MIN", "MAX", "ALL", "COUNT", "SAVE", "UPDATE", "CONTEXT", "PARTIAL"})


@dataclass(frozen=True)
class Returns:
    options: tuple[str, ...]
    #: ``PARTIAL low:high`` (RFC 5267 4.4): 1-based positions in the result, low <= high.
    partial: tuple[int, int] | None = None


def parse_returns(cursor: Cursor) -> Returns | None:
    """``RETURN (...) SP`` before the search keys or sort criteria; None when absent.

    An empty list means ``ALL`` (RFC 4731 3.1).
    """
    if not cursor.take(b"RETURN ("):
        return None
    options: list[str] = []
    partial: tuple[int, int] | None = None
    if not cursor.take(b")"):
        while True:
            option = cursor.atom("return option").upper()
            if option not in RETURN_OPTIONS:
                raise ParseError("Unknown search return option")
            if option == "PARTIAL":
                cursor.sp()
                partial = _range(cursor)
            if option not in options:
                options.append(option)
            if cursor.take(b")"):
                break
            cursor.sp()
    cursor.sp()
    return Returns(tuple(options) or ("ALL",), partial)


def _range(cursor: Cursor) -> tuple[int, int]:
    """``nz-number ":" nz-number``, either way round (Dovecot accepts ``3:2`` as ``2:3``)."""
    try:
        low = cursor.nz_number()
        cursor.expect(b":")
        high = cursor.nz_number()
    except ParseError:
        raise ParseError("Invalid PARTIAL range") from None
    return (min(low, high), max(low, high))
