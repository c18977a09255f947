"""Base subjects (RFC 5256 2.1) and the threading algorithms on hand-made facts,
including the hostile shapes: reference loops, duplicate Message-IDs, deep chains."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mailserver.imap.mime.headers import parse_fields
from mailserver.imap.sorting.basesubject import base_subject
from mailserver.imap.sorting.facts import MAX_REFERENCES, Facts, _references
from mailserver.imap.sorting.order import sort_facts
from mailserver.imap.sorting.threads import ordered_subject, references, render


@pytest.mark.parametrize(
    ("raw", "base", "reply"),
    [
        ("hello", "hello", False),
        ("Re: hello", "hello", True),
        ("RE: [list] Re : Fwd: hello (fwd)", "hello", True),
        ("[list] hello", "hello", False),
        ("[Fwd: Re: hi]", "hi", True),
        ("[x]", "[x]", False),
        ("Re: [x]", "[x]", True),
        ("  a \t  b ", "a b", False),
        ("Fw[3]: x", "x", True),
        ("=?utf-8?q?Re=3A_caf=C3=A9?=", "café", True),
        ("re: re: (fwd)", "", True),
        ("", "", False),
        (None, "", False),
    ],
)
def test_base_subject(raw: str | None, base: str, reply: bool) -> None:
    assert base_subject(raw) == (base, reply)


def facts(
    seq: int, mid: str | None, refs: tuple[str, ...] = (), subject: str = "", sent: float = 0.0
) -> Facts:
    base, reply = base_subject(subject)
    return Facts(
        seq=seq,
        uid=seq,
        size=seq,
        arrival=float(seq),
        sent=sent or float(seq),
        subject=base,
        reply=reply,
        from_="",
        to="",
        cc="",
        display_from="",
        display_to="",
        message_id=mid,
        references=refs,
    )


def threaded(items: list[Facts]) -> str:
    return render(references(items), lambda f: f.seq).decode()


def test_reference_loops_do_not_hang_or_lose_messages() -> None:
    items = [facts(1, "a", ("b",)), facts(2, "b", ("a",)), facts(3, "c", ("c",))]
    out = threaded(items)
    assert sorted(int(n) for n in out.replace("(", " ").replace(")", " ").split()) == [1, 2, 3]


def test_duplicate_and_missing_message_ids_are_separate_messages() -> None:
    items = [facts(1, "a"), facts(2, "a"), facts(3, None), facts(4, None, ("a",))]
    assert threaded(items) == "(1 4)(2)(3)"


def test_deep_chain_and_wide_fan_are_rendered_without_recursion() -> None:
    depth = 5000
    chain = [facts(1, "m1")] + [facts(n, f"m{n}", (f"m{n - 1}",)) for n in range(2, depth + 1)]
    out = threaded(chain)
    assert out == "(" + " ".join(str(n) for n in range(1, depth + 1)) + ")"
    # A comb: every message has two replies, one of which goes on.
    comb = [facts(1, "c1")]
    for n in range(2, 2 * depth, 2):
        comb.append(facts(n, f"c{n}", (f"c{n - 2 if n > 2 else 1}",)))
        comb.append(facts(n + 1, f"leaf{n}", (f"c{n - 2 if n > 2 else 1}",)))
    out = threaded(comb)
    assert out.startswith("(1 (2 (4 (6 ") and out.count("(") == len(comb)


def test_subject_merge_puts_replies_under_the_original() -> None:
    items = [facts(1, "x", subject="Re: topic"), facts(2, "y", subject="topic")]
    assert threaded(items) == "(2 1)" or threaded(items) == "((1)(2))"
    # Two originals with one subject share a dummy parent.
    items = [facts(1, "x", subject="topic"), facts(2, "y", subject="topic")]
    assert threaded(items) == "((1)(2))"


def test_orderedsubject_groups_by_base_subject_and_sorts_by_date() -> None:
    items = [
        facts(1, None, subject="b", sent=5),
        facts(2, None, subject="Re: a", sent=2),
        facts(3, None, subject="a", sent=3),
        facts(4, None, subject="Re: b", sent=1),
    ]
    assert render(ordered_subject(items), lambda f: f.seq) == b"(4 1)(2 3)"


def test_sort_is_stable_on_sequence_numbers_even_when_reversed() -> None:
    items = [facts(n, None, subject="same") for n in (3, 1, 2)]
    ordered = sort_facts(items, [("SUBJECT", True)])
    assert [f.seq for f in ordered] == [1, 2, 3]


HOSTILE = """
from mailserver.imap.sorting.basesubject import base_subject
assert base_subject("x" + " (fwd)" * 200_000) == ("x", True)
assert base_subject("Re: " * 250_000 + "hi") == ("", True)
assert base_subject("[a]" * 300_000 + "x") == ("[a", False)
print("done")
"""


def test_hostile_subjects_stay_cheap() -> None:
    # Quadratic steps on megabyte subjects took minutes; only a prefix counts now.
    # In a child process with a deadline, so a regression fails instead of hanging.
    result = subprocess.run(
        [sys.executable, "-c", HOSTILE], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "done"


def test_long_reference_lists_are_cut_to_the_nearest() -> None:
    raw = "References: " + " ".join(f"<r{n}@x>" for n in range(10_000)) + "\r\n\r\n"
    fields = parse_fields(raw.encode())
    refs = _references(fields)
    assert len(refs) == MAX_REFERENCES and refs[-1] == "r9999@x"
