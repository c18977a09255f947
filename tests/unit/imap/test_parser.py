"""The command parser against RFC 3501's formal syntax and its examples."""

from __future__ import annotations

import datetime

import pytest

from mailserver.imap.mime.section import Section
from mailserver.imap.parser.commands import (
    Append,
    AppendMessage,
    Authenticate,
    Copy,
    Fetch,
    InvalidCommand,
    ListCommand,
    Login,
    MailboxCommand,
    NoArguments,
    Rename,
    Search,
    Select,
    Status,
    Store,
    parse_command,
)
from mailserver.imap.parser.fetch_items import BodySection, FetchAttribute
from mailserver.imap.parser.lexer import Cursor, ParseError
from mailserver.imap.parser.search_keys import (
    All,
    And,
    BodyKey,
    DateKey,
    HasFlag,
    HeaderKey,
    InSet,
    Not,
    Or,
    Recent,
    SizeKey,
    TextKey,
)
from mailserver.imap.parser.sequence import sequence_set_from


def parse(line: bytes | str) -> object:
    return parse_command(line.encode() if isinstance(line, str) else line)


def invalid(line: bytes | str) -> InvalidCommand:
    result = parse(line)
    assert isinstance(result, InvalidCommand), result
    return result


# ------------------------------------------------------------- basics


@pytest.mark.parametrize("verb", ["CAPABILITY", "capability", "Noop", "logout", "CHECK"])
def test_commands_without_arguments_in_any_case(verb: str) -> None:
    command = parse(f"00A1 {verb}")
    assert command == NoArguments("00A1", verb.upper())


def test_tag_may_contain_brackets_but_not_plus() -> None:
    assert parse("a]1 NOOP") == NoArguments("a]1", "NOOP")
    assert invalid("+a NOOP").tag is None


def test_empty_line_and_missing_command() -> None:
    assert invalid("").reason == "Empty command line"
    missing = invalid("a1")
    assert missing.tag == "a1" and missing.reason == "Missing command"


@pytest.mark.parametrize(
    ("line", "verb"),
    [
        ("CAPABILITY", "CAPABILITY"),
        ("login group1_2 group1_2", "LOGIN"),
        ("select INBOX", "SELECT"),
        ("uid", "UID"),
        ("noop (", "NOOP"),
    ],
)
def test_a_command_without_its_tag_is_named(line: str, verb: str) -> None:
    """What a student types in telnet: the verb was taken for the tag."""
    missing = invalid(line)
    assert missing.tag is None
    assert missing.reason == f"Missing tag: every command starts with a tag, e.g. a1 {verb} ..."


def test_a_verb_as_tag_before_a_real_command_is_a_tag() -> None:
    assert invalid("login FROB").reason.startswith("Missing tag")
    assert invalid("frob FROB").reason == "Unknown command"


def test_unknown_command_and_extra_arguments() -> None:
    assert invalid("a1 FROB").reason == "Unknown command"
    assert invalid("a1 NOOP now").reason == "Unexpected extra arguments"


# ------------------------------------------------------------- strings


def test_login_atoms_quoted_and_literal() -> None:
    assert parse("00A2 LOGIN group1_1 group1_1") == Login("00A2", "LOGIN", "group1_1", "group1_1")
    assert parse('a LOGIN "fred smith" "pa\\"ss\\\\"') == Login(
        "a", "LOGIN", "fred smith", 'pa"ss\\'
    )
    assert parse(b"a LOGIN {5}\r\nfred! {3+}\r\nxyz") == Login("a", "LOGIN", "fred!", "xyz")


def test_bad_quoted_strings() -> None:
    assert invalid('a LOGIN "fred pw').reason == "Unterminated quoted string"
    assert invalid('a LOGIN "fr\\ed" pw').reason == "Invalid escape in quoted string"


def test_truncated_literal() -> None:
    assert invalid(b"a LOGIN {10}\r\nabc").reason == "Truncated literal"


def test_authenticate_with_initial_response() -> None:
    assert parse("a AUTHENTICATE plain AGZyZWQAcHc=") == Authenticate(
        "a", "AUTHENTICATE", "PLAIN", "AGZyZWQAcHc="
    )
    assert parse("a authenticate LOGIN") == Authenticate("a", "AUTHENTICATE", "LOGIN", None)


# ------------------------------------------------------------- mailboxes


def test_mailbox_names_inbox_case_and_modified_utf7() -> None:
    assert parse('00A3 SELECT "INBOX"') == Select("00A3", "SELECT", "INBOX")
    assert parse("a select inbox") == Select("a", "SELECT", "INBOX")
    assert parse("a CREATE Inbox/Sub") == MailboxCommand("a", "CREATE", "INBOX/Sub")
    assert parse("a CREATE &ZeVnLIqe-") == MailboxCommand("a", "CREATE", "日本語")
    assert parse("a RENAME a b") == Rename("a", "RENAME", "a", "b")
    assert invalid("a CREATE &Jjo").reason == "Mailbox name is not valid modified UTF-7"


def test_list_patterns_keep_wildcards() -> None:
    assert parse('a LIST "" *') == ListCommand("a", "LIST", "", "*", ("*",))
    assert parse("a LSUB #news. comp.mail.%") == ListCommand(
        "a", "LSUB", "#news.", "comp.mail.%", ("comp.mail.%",)
    )
    assert parse('a LIST "" ""') == ListCommand("a", "LIST", "", "", ("",))


def test_status_items() -> None:
    assert parse("A042 STATUS blurdybloop (UIDNEXT MESSAGES)") == Status(
        "A042", "STATUS", "blurdybloop", ("UIDNEXT", "MESSAGES")
    )
    assert invalid("a STATUS INBOX (BOGUS)").reason == "Unknown status item BOGUS"


def test_append_rfc3501_example() -> None:
    message = b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n\r\nHello Joe\r\n"
    line = b"A003 APPEND saved-messages (\\Seen) {%d}\r\n" % len(message) + message
    command = parse(line)
    expected = AppendMessage(("\\Seen",), None, message)
    assert command == Append("A003", "APPEND", "saved-messages", (expected,))


def test_append_with_date_time_and_keyword() -> None:
    line = b'a APPEND Drafts (\\Draft $Label1) " 7-Feb-1994 21:52:25 -0800" {3+}\r\nabc'
    command = parse(line)
    assert isinstance(command, Append)
    assert command.messages[0].flags == ("\\Draft", "$Label1")
    assert (
        command.messages[0].internal_date
        == datetime.datetime(1994, 2, 8, 5, 52, 25, tzinfo=datetime.UTC).timestamp()
    )
    assert (
        invalid(b'a APPEND x "31-Foo-2000 00:00:00 +0000" {1}\r\nx').reason == "Invalid date-time"
    )
    assert invalid(b"a APPEND x (\\Bogus) {1}\r\nx").reason == "Invalid system flag \\Bogus"


# ------------------------------------------------------------- sequences


@pytest.mark.parametrize(
    ("text", "largest", "numbers"),
    [
        ("1", 5, [1]),
        ("2:4", 5, [2, 3, 4]),
        ("4:2", 5, [2, 3, 4]),
        ("3:*", 5, [3, 4, 5]),
        ("*:3", 5, [3, 4, 5]),
        ("*", 5, [5]),
        ("2,4:5,1", 5, [1, 2, 4, 5]),
        ("1:3,2:4", 5, [1, 2, 3, 4]),
    ],
)
def test_sequence_sets(text: str, largest: int, numbers: list[int]) -> None:
    assert list(sequence_set_from(text).numbers(largest)) == numbers


def test_sequence_set_contains_and_uid_star() -> None:
    seq = sequence_set_from("1000:*")
    # n:* always includes the highest UID, even when n is bigger (RFC 3501 6.4.8).
    assert seq.resolve(500) == [(500, 1000)]
    assert seq.contains(500, 500)
    assert str(sequence_set_from("1:4,7,9:*")) == "1:4,7,9:*"


@pytest.mark.parametrize("text", ["0", "1:", ",1", "1,,2", "a", "1:0"])
def test_bad_sequence_sets(text: str) -> None:
    with pytest.raises(ParseError):
        sequence_set_from(text)


# ------------------------------------------------------------- fetch


def test_exercise_fetch_lines() -> None:
    assert parse("00A4 UID FETCH 1:7 FLAGS") == Fetch(
        "00A4", "UID FETCH", True, sequence_set_from("1:7"), (FetchAttribute("FLAGS"),)
    )
    command = parse("00A5 uid fetch 3 (BODY.PEEK[] UID)")
    assert isinstance(command, Fetch)
    assert command.items == (BodySection(Section(), peek=True), FetchAttribute("UID"))


def test_fetch_header_fields_with_partial() -> None:
    command = parse("a FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]<0.100>")
    assert isinstance(command, Fetch)
    assert command.items == (
        BodySection(
            Section(text="HEADER.FIELDS", fields=("SUBJECT", "FROM")), peek=True, partial=(0, 100)
        ),
    )


@pytest.mark.parametrize(
    ("text", "section"),
    [
        ("BODY[]", Section()),
        ("BODY[HEADER]", Section(text="HEADER")),
        ("BODY[TEXT]", Section(text="TEXT")),
        ("BODY[2.MIME]", Section(part=(2,), text="MIME")),
        ("BODY[1.2.3]", Section(part=(1, 2, 3))),
        ("BODY[4.2.HEADER]", Section(part=(4, 2), text="HEADER")),
        ("body[3.header.fields.not (to cc)]", Section((3,), "HEADER.FIELDS.NOT", ("TO", "CC"))),
    ],
)
def test_sections(text: str, section: Section) -> None:
    command = parse(f"a FETCH 1 {text}")
    assert isinstance(command, Fetch)
    assert command.items == (BodySection(section),)


@pytest.mark.parametrize(
    "text", ["BODY[MIME]", "BODY[1.]", "BODY[0]", "BODY[HEADER.FIELDS]", "BODY[1]<5>", "FOO"]
)
def test_bad_fetch_items(text: str) -> None:
    invalid(f"a FETCH 1 {text}")


def test_fetch_macros() -> None:
    all_ = parse("a FETCH 1:* ALL")
    assert isinstance(all_, Fetch)
    assert [i.name for i in all_.items if isinstance(i, FetchAttribute)] == [
        "FLAGS",
        "INTERNALDATE",
        "RFC822.SIZE",
        "ENVELOPE",
    ]
    full = parse("a fetch 1 full")
    assert isinstance(full, Fetch) and FetchAttribute("BODY") in full.items
    fast = parse("a FETCH 1 FAST")
    assert isinstance(fast, Fetch) and len(fast.items) == 3


def test_fetch_rfc3501_example() -> None:
    command = parse("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])")
    assert isinstance(command, Fetch)
    assert command.items[1] == BodySection(Section(text="HEADER.FIELDS", fields=("DATE", "FROM")))


# ------------------------------------------------------------- store / copy


def test_store_forms() -> None:
    assert parse("A003 STORE 2:4 +FLAGS (\\Deleted)") == Store(
        "A003", "STORE", False, sequence_set_from("2:4"), "add", False, ("\\Deleted",)
    )
    assert parse("a UID STORE 5 -FLAGS.SILENT \\seen $Junk") == Store(
        "a", "UID STORE", True, sequence_set_from("5"), "remove", True, ("\\Seen", "$Junk")
    )
    assert parse("a store 1 flags ()") == Store(
        "a", "STORE", False, sequence_set_from("1"), "replace", False, ()
    )
    invalid("a STORE 1 FLAGZ (\\Seen)")


def test_copy() -> None:
    assert parse("A003 COPY 2:4 MEETING") == Copy(
        "A003", "COPY", False, sequence_set_from("2:4"), "MEETING"
    )
    assert invalid("a UID CHECK").reason == "Unknown UID command CHECK"


# ------------------------------------------------------------- search


def search_key(text: str) -> object:
    command = parse(f"a SEARCH {text}")
    assert isinstance(command, Search), command
    return command.key


def test_search_rfc3501_examples() -> None:
    assert search_key('FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"') == And(
        (
            HasFlag("\\Flagged"),
            DateKey("since", datetime.date(1994, 2, 1)),
            Not(HeaderKey("FROM", "Smith")),
        )
    )
    assert search_key('TEXT "string not in mailbox"') == TextKey("string not in mailbox")


def test_search_keys() -> None:
    assert search_key("ALL") == All()
    assert search_key("new") == And((Recent(), HasFlag("\\Seen", False)))
    assert search_key("OLD") == Not(Recent())
    assert search_key("OR SEEN (DELETED ANSWERED)") == Or(
        HasFlag("\\Seen"), And((HasFlag("\\Deleted"), HasFlag("\\Answered")))
    )
    assert search_key("1:3,5 UID 10:*") == And(
        (InSet(sequence_set_from("1:3,5")), InSet(sequence_set_from("10:*"), uid=True))
    )
    assert search_key("LARGER 100 SMALLER 5000") == And((SizeKey(True, 100), SizeKey(False, 5000)))
    assert search_key('HEADER X-Priority "1"') == HeaderKey("X-PRIORITY", "1")
    assert search_key("BODY {4}\r\ntest") == BodyKey("test")
    assert search_key('SENTBEFORE "5-Mar-2020"') == DateKey(
        "before", datetime.date(2020, 3, 5), True
    )
    assert search_key("KEYWORD $Label1 UNKEYWORD Junk") == And(
        (HasFlag("$Label1"), HasFlag("Junk", False))
    )


def test_search_charset() -> None:
    command = parse("a SEARCH CHARSET UTF-8 SUBJECT {5}\r\n\xc3\xa9t\xc3\xa9".encode("latin-1"))
    assert isinstance(command, Search)
    assert command.charset == "UTF-8" and command.key == HeaderKey("SUBJECT", "été")
    bad = invalid("a SEARCH CHARSET KOI8-R ALL")
    assert bad.status == "NO" and bad.code is not None and bad.code.startswith("BADCHARSET")


@pytest.mark.parametrize(
    "text", ["", "FROB", "SINCE 31-Feb-2000", "OR SEEN", "(SEEN", "LARGER x", "NOT"]
)
def test_bad_search(text: str) -> None:
    invalid(f"a SEARCH {text}".rstrip())


def test_deep_nesting_is_refused() -> None:
    assert "nested" in invalid("a SEARCH " + "NOT " * 200 + "ALL").reason


def test_cursor_number_bounds() -> None:
    with pytest.raises(ParseError):
        Cursor(b"99999999999").number()


@pytest.mark.parametrize(
    "criteria",
    [
        "ALL", "ANSWERED", "BCC x", "BEFORE 1-Feb-1994", "BODY x", "CC x", "DELETED", "DRAFT",
        "FLAGGED", "FROM x", "HEADER X-A x", "KEYWORD k", "LARGER 1", "NEW", "NOT SEEN", "OLD",
        "ON 1-Feb-1994", "OR SEEN DRAFT", "RECENT", "SEEN", "SENTBEFORE 1-Feb-1994",
        "SENTON 1-Feb-1994", "SENTSINCE 1-Feb-1994", "SINCE 1-Feb-1994", "SMALLER 1",
        "SUBJECT x", "TEXT x", "TO x", "UID 1:*", "UNANSWERED", "UNDELETED", "UNDRAFT",
        "UNFLAGGED", "UNKEYWORD k", "UNSEEN", "1,3:*", "(SEEN)",
    ],
)  # fmt: skip
def test_every_rfc3501_search_key_parses(criteria: str) -> None:
    assert isinstance(parse(f"a SEARCH {criteria}"), Search)
    assert isinstance(parse(f"a uid search {criteria.lower()}"), Search)
