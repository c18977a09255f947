"""Pure tests of engineer A's extension pieces: grammar (ENABLE, ID, UID EXPUNGE,
MOVE, LIST-EXTENDED, SEARCH RETURN), UID sets, ESEARCH lines, ENABLE registry,
the loop guards and the INTERNALDATE format."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from mailserver.imap import wire
from mailserver.imap.abuse import BurstGuard
from mailserver.imap.commands import enable as enable_module
from mailserver.imap.esearch import esearch_response
from mailserver.imap.parser.commands import (
    Copy,
    InvalidCommand,
    ParsedCommand,
    Search,
    parse_command,
)
from mailserver.imap.parser.extensions import Enable, Id, ListCommand, UidExpunge
from mailserver.imap.parser.sequence import sequence_set_from
from mailserver.imap.response_codes import uid_set


def parse(line: str | bytes) -> ParsedCommand:
    return parse_command(line.encode() if isinstance(line, str) else line)


def invalid(line: str) -> InvalidCommand:
    result = parse(line)
    assert isinstance(result, InvalidCommand), result
    return result


# ------------------------------------------------------------- grammar


def test_enable_and_id() -> None:
    assert parse("a ENABLE condstore X-FOO") == Enable("a", "ENABLE", ("CONDSTORE", "X-FOO"))
    assert invalid("a ENABLE").reason == "Missing capability"
    assert parse('a1 ID ("name" "sodr" "version" "19.34" "os" NIL)') == Id(
        "a1", "ID", (("name", "sodr"), ("version", "19.34"), ("os", None))
    )
    assert parse("a id nil") == Id("a", "ID", None)
    assert parse("a ID ()") == Id("a", "ID", ())
    assert invalid('a ID ("name")').status == "BAD"
    many = " ".join(f'"k{n}" "v"' for n in range(31))
    assert invalid(f"a ID ({many})").reason == "Too many ID fields"


def test_move_and_uid_expunge() -> None:
    assert parse("a UID MOVE 42:69 foo") == Copy(
        "a", "UID MOVE", True, sequence_set_from("42:69"), "foo"
    )
    assert parse("a move 1,3 Trash") == Copy("a", "MOVE", False, sequence_set_from("1,3"), "Trash")
    assert parse("A003 UID EXPUNGE 3000:3002") == UidExpunge(
        "A003", "UID EXPUNGE", sequence_set_from("3000:3002")
    )
    assert invalid("a UID EXPUNGE").reason == "Missing argument"
    assert invalid("a EXPUNGE 1").reason == "Unexpected extra arguments"
    for verb in ("UNSELECT", "IDLE", "NAMESPACE"):
        assert parse(f"a {verb.lower()}").name == verb
        assert invalid(f"a {verb} x").reason == "Unexpected extra arguments"


def test_list_extended_grammar() -> None:
    # RFC 5258 section 5 examples.
    command = parse('A02 LIST (SUBSCRIBED) "" "*"')
    assert isinstance(command, ListCommand)
    assert command.selection == {"SUBSCRIBED"} and command.extended
    command = parse('A03 LIST () "" "%" RETURN (CHILDREN)')
    assert isinstance(command, ListCommand)
    assert command.returns == {"CHILDREN"} and command.patterns == ("%",)
    command = parse('A04 LIST (REMOTE SUBSCRIBED) "" "*" RETURN (CHILDREN)')
    assert isinstance(command, ListCommand)
    assert command.selection == {"REMOTE", "SUBSCRIBED"}
    command = parse('C04 list (subscribed recursivematch) "" ("*" "Foo/%")')
    assert isinstance(command, ListCommand)
    assert command.patterns == ("*", "Foo/%")
    # RFC 5819 and RFC 6154.
    command = parse('A01 LIST "" % RETURN (STATUS (MESSAGES UNSEEN))')
    assert isinstance(command, ListCommand)
    assert command.status_items == ("MESSAGES", "UNSEEN") and not command.extended
    command = parse('t1 LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE SUBSCRIBED)')
    assert isinstance(command, ListCommand)
    assert command.selection == {"SPECIAL-USE"}
    assert command.returns == {"SPECIAL-USE", "SUBSCRIBED"}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('a LIST (RECURSIVEMATCH) "" *', "RECURSIVEMATCH needs another selection option"),
        ('a LIST (REMOTE RECURSIVEMATCH) "" *', "RECURSIVEMATCH needs another selection option"),
        ('a LIST (BOGUS) "" *', "Unknown selection option"),
        ('a LIST "" * RETURN (BOGUS)', "Unknown return option"),
        ('a LIST "" * RETURN (STATUS (BOGUS))', "Unknown status item"),
        ('a LSUB (SUBSCRIBED) "" *', "Invalid reference"),
        ('a LIST "" ()', "Invalid pattern"),
    ],
)
def test_list_extended_errors(line: str, reason: str) -> None:
    assert invalid(line).reason == reason


def test_search_return() -> None:
    command = parse("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM Smith")
    assert isinstance(command, Search) and command.returns == ("MIN", "COUNT")
    command = parse("A283 SEARCH RETURN () FLAGGED")
    assert isinstance(command, Search) and command.returns == ("ALL",)
    command = parse("a uid search return (all max) 1:*")
    assert isinstance(command, Search) and command.returns == ("ALL", "MAX") and command.uid
    command = parse("a SEARCH ALL")
    assert isinstance(command, Search) and command.returns is None
    assert invalid("a SEARCH RETURN (BOGUS) ALL").reason == "Unknown search return option"


# ------------------------------------------------------- responses


def test_uid_set_keeps_order_and_compresses_runs() -> None:
    assert uid_set([]) == ""
    assert uid_set([1, 2, 3, 5, 7, 8]) == "1:3,5,7:8"
    assert uid_set([9, 7, 8]) == "9,7:8"


@dataclass
class FakeView:
    uids: list[int]

    def seq_of(self, uid: int) -> int | None:
        return self.uids.index(uid) + 1 if uid in self.uids else None


def search(line: str) -> Search:
    command = parse(line)
    assert isinstance(command, Search)
    return command


def test_esearch_lines_rfc4731_examples() -> None:
    view = FakeView([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20])
    matches = [11, 12, 20]
    out = esearch_response(view, search("A282 SEARCH RETURN (MIN COUNT) FLAGGED"), matches)  # type: ignore[arg-type]
    assert out == b'* ESEARCH (TAG "A282") MIN 2 COUNT 3\r\n'
    out = esearch_response(view, search("A283 SEARCH RETURN () FLAGGED"), matches)  # type: ignore[arg-type]
    assert out == b'* ESEARCH (TAG "A283") ALL 2:3,11\r\n'
    out = esearch_response(view, search("A284 UID SEARCH RETURN (MIN MAX) 1:*"), matches)  # type: ignore[arg-type]
    assert out == b'* ESEARCH (TAG "A284") UID MIN 11 MAX 20\r\n'
    # Nothing matched: only COUNT is reported.
    out = esearch_response(view, search("A285 SEARCH RETURN (MIN MAX COUNT ALL) SEEN"), [])  # type: ignore[arg-type]
    assert out == b'* ESEARCH (TAG "A285") COUNT 0\r\n'


# ----------------------------------------------------------- ENABLE


@dataclass
class FakeSession:
    offered: str
    enabled: set[str] = field(default_factory=set)
    calls: list[str] = field(default_factory=list)

    def capabilities(self) -> str:
        return self.offered


def test_enable_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enable_module, "ENABLEABLE", {})
    session = FakeSession("IMAP4rev1 X-ONE X-TWO")

    def two(s: FakeSession) -> None:  # X-TWO implies X-ONE, like QRESYNC and CONDSTORE
        s.calls.append("two")
        enable_module.enable(s, "X-ONE")  # type: ignore[arg-type]

    enable_module.register("x-one", lambda s: s.calls.append("one"))  # type: ignore[attr-defined]
    enable_module.register("X-TWO", two)  # type: ignore[arg-type]
    enable_module.register("X-HIDDEN")
    assert not enable_module.enable(session, "X-HIDDEN")  # type: ignore[arg-type]
    assert not enable_module.enable(session, "X-UNKNOWN")  # type: ignore[arg-type]
    assert enable_module.enable(session, "x-two")  # type: ignore[arg-type]
    assert session.enabled == {"X-ONE", "X-TWO"}
    assert session.calls == ["two", "one"]
    assert not enable_module.enable(session, "X-ONE")  # type: ignore[arg-type]
    assert session.calls == ["two", "one"]


# ------------------------------------------------------------ guards


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_guard_counts_per_key_within_window() -> None:
    clock = Clock()
    guard = BurstGuard(3, 10.0, clock)
    assert [guard.hit("INBOX") for _ in range(3)] == [False, False, False]
    assert guard.hit("INBOX")  # the fourth within 10 s
    guard = BurstGuard(3, 10.0, clock)
    for _ in range(10):  # alternating folders never trips
        assert not guard.hit("INBOX")
        assert not guard.hit("Sent")
    for _ in range(10):  # slow enough never trips
        clock.now += 4.0
        assert not guard.hit("INBOX")


# ------------------------------------------------------- INTERNALDATE

_RFC3501_DATE_TIME = re.compile(
    rb'"(0[1-9]|[12][0-9]|3[01])-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-'
    rb'\d{4} ([01]\d|2[0-3]):[0-5]\d:[0-5]\d [+-]\d{4}"'
)


@pytest.mark.parametrize("epoch", [0, 86400 * 4, 837596665, 1700000000, 1735689599, 4102444800])
def test_internaldate_is_always_dd_mon_yyyy(epoch: int) -> None:
    text = wire.imap_date(epoch)
    assert _RFC3501_DATE_TIME.fullmatch(text), text
    assert wire.parse_imap_date_time(text.decode()) == epoch
