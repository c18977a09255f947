"""Command lines as students type them: any case, extra blanks, wrong arguments."""

from __future__ import annotations

import pytest

from mailserver.pop3.commands import SYNTAXES
from mailserver.pop3.parser import Command, InvalidCommand, parse_command


def parse(line: bytes) -> Command | InvalidCommand:
    return parse_command(line, SYNTAXES)


@pytest.mark.parametrize("line", [b"stat", b"STAT", b"Stat", b"  stat  ", b"\tsTaT"])
def test_verbs_are_case_insensitive_and_blanks_tolerated(line: bytes) -> None:
    assert parse(line) == Command("STAT")


def test_user_takes_one_word() -> None:
    assert parse(b"user   group1_1 ") == Command("USER", words=("group1_1",))
    assert isinstance(parse(b"user"), InvalidCommand)
    assert isinstance(parse(b"user a b"), InvalidCommand)


def test_pass_keeps_inner_spaces_of_the_password() -> None:
    assert parse(b"PASS  my secret  pw ") == Command("PASS", text="my secret  pw")
    invalid = parse(b"pass")
    assert isinstance(invalid, InvalidCommand)
    assert invalid.verb == "PASS"


def test_numbers() -> None:
    assert parse(b"retr 1") == Command("RETR", numbers=(1,))
    assert parse(b"TOP 3   0") == Command("TOP", numbers=(3, 0))
    assert parse(b"list") == Command("LIST")
    assert parse(b"list 12") == Command("LIST", numbers=(12,))
    # 0 parses; "no such message" is the maildrop's answer, not a syntax error.
    assert parse(b"retr 0") == Command("RETR", numbers=(0,))


@pytest.mark.parametrize(
    "line",
    [b"retr x", b"retr -1", b"retr 1.5", b"retr", b"retr 1 2", b"top 1", b"dele", b"retr \xd9\xa3"],
)
def test_bad_arguments_are_invalid_with_a_reason(line: bytes) -> None:
    result = parse(line)
    assert isinstance(result, InvalidCommand)
    assert result.reply.startswith("-ERR ")
    assert result.verb in {"RETR", "TOP", "DELE"}


def test_absurdly_long_number_is_invalid_not_a_crash() -> None:
    assert isinstance(parse(b"retr " + b"9" * 100), InvalidCommand)


@pytest.mark.parametrize(
    "line", [b"", b"   ", b"hello", b"xyzzy 1", b"\xff\xfe", b"st@t", b"a" * 50]
)
def test_unknown_or_empty_lines(line: bytes) -> None:
    result = parse(line)
    assert isinstance(result, InvalidCommand)
    assert result.reply.startswith("-ERR")


def test_invalid_reply_never_echoes_the_input() -> None:
    result = parse(b"group1_1-password-typed-by-mistake")
    assert isinstance(result, InvalidCommand)
    assert "group1_1" not in result.reply


def test_non_utf8_arguments_are_rejected() -> None:
    result = parse(b"user \xff\xfe")
    assert isinstance(result, InvalidCommand)
    assert result.verb == "USER"


def test_auth_arguments() -> None:
    assert parse(b"auth") == Command("AUTH")
    assert parse(b"auth plain") == Command("AUTH", words=("plain",))
    assert parse(b"AUTH PLAIN AGdyb3VwMV8xAGdyb3VwMV8x") == Command(
        "AUTH", words=("PLAIN", "AGdyb3VwMV8xAGdyb3VwMV8x")
    )
    assert isinstance(parse(b"auth plain a b"), InvalidCommand)


def test_apop_takes_name_and_digest() -> None:
    assert parse(b"apop mrose c4c9334bac560ecc979e58001b3e22fb") == Command(
        "APOP", words=("mrose", "c4c9334bac560ecc979e58001b3e22fb")
    )
    assert isinstance(parse(b"apop mrose"), InvalidCommand)
