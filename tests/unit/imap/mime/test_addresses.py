"""Address lists for ENVELOPE (RFC 3501 7.4.2, RFC 5322 3.4)."""

from __future__ import annotations

import pytest

from mailserver.imap.mime.addresses import GROUP_END, Address, parse_address_list

A = Address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("   ", []),
        ("user@example.com", [A(None, None, "user", "example.com")]),
        ("<user@example.com>", [A(None, None, "user", "example.com")]),
        (
            "Terry Gray <gray@cac.washington.edu>",
            [A("Terry Gray", None, "gray", "cac.washington.edu")],
        ),
        ('"Gray, Terry" <gray@x.edu>', [A("Gray, Terry", None, "gray", "x.edu")]),
        ('"Quote \\" inside" <q@x>', [A('Quote " inside', None, "q", "x")]),
        ("John  Q.   Public <jqp@x>", [A("John Q. Public", None, "jqp", "x")]),
        ("=?utf-8?B?5byg5LiJ?= <z@x>", [A("=?utf-8?B?5byg5LiJ?=", None, "z", "x")]),
        ("user@example.com (Full Name)", [A("Full Name", None, "user", "example.com")]),
        ("Name (comment) <a@b>", [A("Name", None, "a", "b")]),
        ("(only comment) <a@b>", [A("only comment", None, "a", "b")]),
        ('"john doe"@example.com', [A(None, None, '"john doe"', "example.com")]),
        ("a@[192.168.1.1]", [A(None, None, "a", "[192.168.1.1]")]),
        ("<@r1.example,@r2.example:u@final>", [A(None, "@r1.example,@r2.example", "u", "final")]),
        ("a@b, c@d", [A(None, None, "a", "b"), A(None, None, "c", "d")]),
        ("a@b,, ,c@d", [A(None, None, "a", "b"), A(None, None, "c", "d")]),
        ("localonly", [A(None, None, "localonly", "MISSING_DOMAIN")]),
        ("@example.com", [A(None, None, "MISSING_MAILBOX", "example.com")]),
        ("Broken <a@b", [A("Broken", None, "a", "b")]),
        (
            "Team: a@b, Bee <c@d>;",
            [
                A(None, None, "Team", None),
                A(None, None, "a", "b"),
                A("Bee", None, "c", "d"),
                GROUP_END,
            ],
        ),
        ("Undisclosed recipients:;", [A(None, None, "Undisclosed recipients", None), GROUP_END]),
        (
            "Open group: a@b",
            [A(None, None, "Open group", None), A(None, None, "a", "b"), GROUP_END],
        ),
        (
            "G1: a@b;, x@y, G2:;",
            [
                A(None, None, "G1", None),
                A(None, None, "a", "b"),
                GROUP_END,
                A(None, None, "x", "y"),
                A(None, None, "G2", None),
                GROUP_END,
            ],
        ),
    ],
)
def test_parse(text: str, expected: list[Address]) -> None:
    assert parse_address_list(text) == expected


def test_eight_bit_name_survives_byte_exact() -> None:
    raw = "李四 <li@example.com>".encode()
    (address,) = parse_address_list(raw.decode("utf-8", "surrogateescape"))
    assert (
        address.name is not None
        and address.name.encode("utf-8", "surrogateescape") == "李四".encode()
    )


@pytest.mark.parametrize(
    "text", ["<<<", ">>>", '"unterminated', "(unterminated", ":::;;;", "@@@", ",;:<>"]
)
def test_garbage_never_raises(text: str) -> None:
    for address in parse_address_list(text):
        assert isinstance(address, Address)
