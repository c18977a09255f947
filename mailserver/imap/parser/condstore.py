"""RFC 7162 grammar: SELECT parameters, FETCH and STORE modifiers, mod-sequence values.

These functions return plain values; ``commands.py`` puts them into the
command objects. Mod-sequences are 63-bit, wider than the 32-bit numbers
of RFC 3501, so they get their own reader.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailserver.imap.parser.lexer import Cursor, ParseError
from mailserver.imap.parser.sequence import SequenceSet, parse_sequence_set

#: RFC 7162 3.1: "mod-sequence-value = 1*DIGIT ;; Positive unsigned 63-bit integer".
MAX_MODSEQ = 2**63 - 1
#: More digits than any 63-bit value has: refused before int() sees them.
_MAX_DIGITS = 19


@dataclass(frozen=True)
class QresyncParams:
    """``QRESYNC (uidvalidity modseq [known-uids] [(known-seqs known-uids)])`` (RFC 7162 3.2.5)."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    #: (message sequence numbers, their UIDs) the client remembers, pairwise.
    seq_match: tuple[SequenceSet, SequenceSet] | None = None


@dataclass(frozen=True)
class SelectParams:
    condstore: bool = False
    qresync: QresyncParams | None = None


@dataclass(frozen=True)
class FetchModifiers:
    changed_since: int | None = None
    vanished: bool = False


def mod_sequence(cursor: Cursor, allow_zero: bool = True) -> int:
    """``mod-sequence-valzer`` (or ``mod-sequence-value`` without ``allow_zero``)."""
    digits = cursor.chars_while(b"0123456789")
    if not digits:
        raise ParseError("Expected a mod-sequence")
    if len(digits) > _MAX_DIGITS or int(digits) > MAX_MODSEQ:
        raise ParseError("Mod-sequence out of range")
    value = int(digits)
    if value == 0 and not allow_zero:
        raise ParseError("Expected a non-zero mod-sequence")
    return value


def parse_select_params(cursor: Cursor) -> SelectParams:
    """Optional ``SP "(" select-param *(SP select-param) ")"`` after the mailbox name."""
    if not cursor.take(b" "):
        return SelectParams()
    cursor.expect(b"(", "'(' before select parameters")
    condstore = False
    qresync: QresyncParams | None = None
    if not cursor.take(b")"):
        while True:
            name = cursor.atom("select parameter").upper()
            if name == "CONDSTORE" and not condstore:
                condstore = True
            elif name == "QRESYNC" and qresync is None:
                cursor.sp()
                qresync = _qresync(cursor)
            else:
                raise ParseError(f"Unknown select parameter {name}"[:80])
            if cursor.take(b")"):
                break
            cursor.sp()
    return SelectParams(condstore, qresync)


def _qresync(cursor: Cursor) -> QresyncParams:
    cursor.expect(b"(", "'(' after QRESYNC")
    uidvalidity = cursor.nz_number()
    cursor.sp()
    modseq = mod_sequence(cursor, allow_zero=False)
    known: SequenceSet | None = None
    seq_match: tuple[SequenceSet, SequenceSet] | None = None
    if cursor.take(b" "):
        if not cursor.peek_is(b"("):
            known = parse_sequence_set(cursor)
            if cursor.take(b" "):
                seq_match = _seq_match(cursor)
        else:
            seq_match = _seq_match(cursor)
    cursor.expect(b")", "')' after QRESYNC parameters")
    return QresyncParams(uidvalidity, modseq, known, seq_match)


def _seq_match(cursor: Cursor) -> tuple[SequenceSet, SequenceSet]:
    cursor.expect(b"(", "'(' before sequence match data")
    seqs = parse_sequence_set(cursor)
    cursor.sp()
    uids = parse_sequence_set(cursor)
    cursor.expect(b")", "')' after sequence match data")
    return seqs, uids


def parse_fetch_modifiers(cursor: Cursor) -> FetchModifiers:
    """Optional ``SP "(" fetch-modifier *(SP fetch-modifier) ")"`` after the items."""
    if not cursor.take(b" "):
        return FetchModifiers()
    cursor.expect(b"(", "'(' before fetch modifiers")
    changed_since: int | None = None
    vanished = False
    while True:
        name = cursor.atom("fetch modifier").upper()
        if name == "CHANGEDSINCE" and changed_since is None:
            cursor.sp()
            changed_since = mod_sequence(cursor)
        elif name == "VANISHED" and not vanished:
            vanished = True
        else:
            raise ParseError(f"Unknown fetch modifier {name}"[:80])
        if cursor.take(b")"):
            break
        cursor.sp()
    if vanished and changed_since is None:
        raise ParseError("VANISHED needs CHANGEDSINCE")
    return FetchModifiers(changed_since, vanished)


def parse_store_modifiers(cursor: Cursor) -> int | None:
    """Optional ``"(" UNCHANGEDSINCE SP mod-sequence-valzer ")" SP`` before the flags."""
    if not cursor.take(b"("):
        return None
    name = cursor.atom("store modifier").upper()
    if name != "UNCHANGEDSINCE":
        raise ParseError(f"Unknown store modifier {name}"[:80])
    cursor.sp()
    value = mod_sequence(cursor)
    cursor.expect(b")", "')' after store modifiers")
    cursor.sp()
    return value
