"""ESEARCH (RFC 4731): ``SEARCH RETURN (MIN MAX COUNT ALL)`` answers with one
``* ESEARCH`` line, so a client counting unseen mail in a 50,000-message folder
does not receive 50,000 numbers."""

from __future__ import annotations

from mailserver.imap import wire
from mailserver.imap.parser.commands import Search
from mailserver.imap.response_codes import uid_set
from mailserver.imap.view import SelectedView

#: The order the result items are written in.
_ORDER = ("MIN", "MAX", "PARTIAL", "COUNT", "ALL")


def esearch_response(
    view: SelectedView, command: Search, uids: list[int], modseq: int | None = None
) -> bytes:
    """The ``* ESEARCH`` line for the matching UIDs (in sequence order)."""
    if command.uid:
        numbers = sorted(uids)
    else:
        numbers = sorted(seq for uid in uids if (seq := view.seq_of(uid)) is not None)
    wanted = set(command.returns or ("ALL",))
    parts = [b"* ESEARCH (TAG " + wire.quoted(command.tag) + b")"]
    if command.uid:
        parts.append(b"UID")
    for option in _ORDER:
        if option not in wanted:
            continue
        if option == "PARTIAL":
            parts.append(partial_item(command.partial, numbers))
        elif option == "COUNT":
            parts.append(b"COUNT %d" % len(numbers))
        elif numbers:
            # RFC 4731 3.1: MIN, MAX and ALL are left out when nothing matched.
            if option == "MIN":
                parts.append(b"MIN %d" % numbers[0])
            elif option == "MAX":
                parts.append(b"MAX %d" % numbers[-1])
            else:
                parts.append(b"ALL " + uid_set(numbers).encode())
    if modseq is not None:
        parts.append(b"MODSEQ %d" % modseq)  # RFC 7162 3.1.5 with RFC 4731
    return b" ".join(parts) + b"\r\n"


def partial_item(partial: tuple[int, int] | None, numbers: list[int]) -> bytes:
    """``PARTIAL (low:high set)`` (RFC 5267 4.4): the results at those 1-based
    positions (in result order), ``NIL`` when there are none."""
    low, high = partial or (1, len(numbers))
    chosen = numbers[low - 1 : high]
    found = uid_set(chosen).encode() if chosen else b"NIL"
    return b"PARTIAL (%d:%d %s)" % (low, high, found)
