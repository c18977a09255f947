"""LIST wildcard matching (RFC 3501 6.3.8) and implied parent folders."""

from __future__ import annotations

import pytest

from mailserver.imap.listing import Listed, NamePattern, list_entries

FOLDERS = ["INBOX", "Sent", "Trash", "Projects/2024", "Projects/2024/Q1", "Archive/Old", "a*b"]
WITH_INBOX_CHILDREN = ["INBOX", "INBOX/Sub", "inbox-old", "INBOXES"]


def names(pattern: str) -> list[str]:
    return [entry.name for entry in list_entries(FOLDERS, pattern)]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*", ["INBOX", "Archive", "Archive/Old", "Projects", "Projects/2024",
               "Projects/2024/Q1", "Sent", "Trash", "a*b"]),
        ("%", ["INBOX", "Archive", "Projects", "Sent", "Trash", "a*b"]),
        ("Projects/%", ["Projects/2024"]),
        ("Projects/*", ["Projects/2024", "Projects/2024/Q1"]),
        ("Pro%", ["Projects"]),
        ("%/%", ["Archive/Old", "Projects/2024"]),
        ("inbox", ["INBOX"]),
        ("Inbox", ["INBOX"]),
        ("sent", []),  # only INBOX is case-insensitive
        ("T*h", ["Trash"]),
        ("Nothing", []),
    ],
)  # fmt: skip
def test_patterns(pattern: str, expected: list[str]) -> None:
    assert names(pattern) == expected


def test_implied_parents_are_noselect_with_children() -> None:
    entries = {entry.name: entry for entry in list_entries(FOLDERS, "*")}
    assert entries["Projects"] == Listed("Projects", noselect=True, has_children=True)
    assert entries["Projects/2024"] == Listed("Projects/2024", noselect=False, has_children=True)
    assert entries["Sent"] == Listed("Sent", noselect=False, has_children=False)


def test_regex_special_characters_are_literal() -> None:
    assert NamePattern("a.c").matches("a.c")
    assert not NamePattern("a.c").matches("abc")
    assert NamePattern("(x)+").matches("(x)+")


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("inbox*", ["INBOX", "INBOX/Sub", "inbox-old"]),
        ("Inbox/%", ["INBOX/Sub"]),
        ("INBOX*", ["INBOX", "INBOX/Sub", "INBOXES"]),
        ("inbox%", ["INBOX", "inbox-old"]),
        ("*old", ["inbox-old"]),
    ],
)  # fmt: skip
def test_inbox_matches_in_any_case_other_names_exactly(pattern: str, expected: list[str]) -> None:
    """RFC 3501 5.1: INBOX is case-insensitive, every other name is not."""
    found = [entry.name for entry in list_entries(WITH_INBOX_CHILDREN, pattern)]
    assert found == expected
