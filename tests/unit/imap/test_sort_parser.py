"""Grammar of SORT, THREAD, RETURN options (ESEARCH/ESORT/CONTEXT/SEARCHRES),
CANCELUPDATE and CREATE (USE ...): what parses into which command, what is BAD."""

from __future__ import annotations

import pytest

from mailserver.imap.parser.commands import InvalidCommand, MailboxCommand, Search, parse_command
from mailserver.imap.parser.context import CancelUpdate
from mailserver.imap.parser.create import CreateSpecialUse
from mailserver.imap.parser.search_keys import AgeKey, All, InSet, ObjectIdKey
from mailserver.imap.parser.sort import Sort, Thread


def test_sort_criteria_charset_and_returns() -> None:
    parsed = parse_command(b"a UID SORT RETURN (MIN PARTIAL 5:2) (REVERSE DATE subject) utf-8 ALL")
    assert isinstance(parsed, Sort)
    assert parsed.name == "UID SORT" and parsed.uid
    assert parsed.criteria == (("DATE", True), ("SUBJECT", False))
    assert parsed.charset == "UTF-8" and parsed.key == All()
    assert parsed.returns == ("MIN", "PARTIAL") and parsed.partial == (2, 5)


def test_thread() -> None:
    parsed = parse_command(b"t THREAD references US-ASCII $")
    assert isinstance(parsed, Thread)
    assert parsed.algorithm == "REFERENCES"
    assert isinstance(parsed.key, InSet) and parsed.key.sequence.saved


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"a SORT (DATE) ALL", "Missing argument"),
        (b"a SORT () UTF-8 ALL", "Invalid sort key"),
        (b"a SORT (REVERSE) UTF-8 ALL", "Unknown sort key"),
        (b"a SORT (BOGUS) UTF-8 ALL", "Unknown sort key"),
        (b"a THREAD REFERENCE UTF-8 ALL", "Unknown threading algorithm"),
        (b"a SEARCH RETURN (PARTIAL 0:1) ALL", "Invalid PARTIAL range"),
        (b"a SEARCH RETURN (PARTIAL) ALL", "Expected a space"),
        (b"a SEARCH 1,$ ALL", "Invalid message sequence set"),
        (b"a SEARCH YOUNGER 0", "Expected a non-zero number"),
        (b"a CANCELUPDATE", "Missing tag"),
        (b"a CANCELUPDATE tag", "Expected a string"),
        (b"a CREATE x (USE (Sent))", "Expected a special-use attribute"),
        (b"a CREATE x (FOO (\\Sent))", "Unknown CREATE parameter"),
    ],
)
def test_bad_syntax(line: bytes, reason: str) -> None:
    parsed = parse_command(line)
    assert isinstance(parsed, InvalidCommand), parsed
    assert parsed.status == "BAD" and parsed.reason == reason


def test_unknown_charset_is_no_badcharset_after_the_syntax_is_checked() -> None:
    parsed = parse_command(b"a SORT (DATE) KOI8-R ALL")
    assert isinstance(parsed, InvalidCommand)
    assert (parsed.status, parsed.code) == ("NO", "BADCHARSET (US-ASCII UTF-8)")
    parsed = parse_command(b"a SORT (DATE) KOI8-R (ALL")
    assert isinstance(parsed, InvalidCommand) and parsed.status == "BAD"


def test_search_returns_and_new_keys() -> None:
    parsed = parse_command(b"a SEARCH RETURN (SAVE UPDATE CONTEXT) OLDER 60 EMAILID M1")
    assert isinstance(parsed, Search)
    assert parsed.returns == ("SAVE", "UPDATE", "CONTEXT") and parsed.partial is None
    assert parsed.key.keys == (AgeKey(True, 60), ObjectIdKey("EMAILID", "M1"))  # type: ignore[union-attr]
    empty = parse_command(b"a SEARCH RETURN () ALL")
    assert isinstance(empty, Search) and empty.returns == ("ALL",)


def test_cancelupdate_and_create_special_use() -> None:
    assert parse_command(b'a CANCELUPDATE "t1" {2}\r\nt2') == CancelUpdate(
        "a", "CANCELUPDATE", ("t1", "t2")
    )
    assert parse_command(b"a CREATE x (USE (\\Sent \\junk))") == CreateSpecialUse(
        "a", "CREATE", "x", ("\\Sent", "\\junk")
    )
    assert parse_command(b"a CREATE x (USE ())") == MailboxCommand("a", "CREATE", "x")
    assert parse_command(b"a SELECT a&b") == InvalidCommand(
        "a", "SELECT", "Mailbox name is not valid modified UTF-7", "NO"
    )
