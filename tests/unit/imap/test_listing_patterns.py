"""LIST pattern matching without backtracking: runs of wildcards against long names.

The check runs in a child process with a deadline, so a regression (a
backtracking matcher takes minutes here) fails the test instead of hanging it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from mailserver.imap.listing import NamePattern

HOSTILE = """
from mailserver.imap.listing import NamePattern
name = "a" * 255
assert not NamePattern("*%" * 200 + "x").matches(name)
assert NamePattern("%*" * 200 + "a").matches(name)
assert not NamePattern("*a" * 100 + "*b").matches(name)
print("done")
"""


def test_hostile_patterns_finish_quickly() -> None:
    result = subprocess.run(
        [sys.executable, "-c", HOSTILE], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "done"


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("*", "a/b", True),
        ("%", "a/b", False),
        ("%/%", "a/b", True),
        ("a*b", "axxb", True),
        ("a*b", "axxc", False),
        ("%a%", "xay", True),
        ("%a%", "x/a", False),
        ("a%", "a", True),
        ("*%", "", True),
        ("%*%", "a/b/c", True),
        ("inbox*", "INBOX/Sub", True),
        ("", "", True),
        ("", "a", False),
    ],
)
def test_wildcards(pattern: str, name: str, matches: bool) -> None:
    assert NamePattern(pattern).matches(name) is matches
