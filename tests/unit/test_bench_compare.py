"""Smoke test of bench/compare.py: it imports and parses its flags (the benchmark never runs)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_defaults_are_the_issue_sizes() -> None:
    args = load("compare").parse_args([])
    assert (args.users, args.clients, args.mailbox) == (100, 10, 30)
    assert (args.smtp_messages, args.smtp_parallel) == (3000, 20)
    assert (args.big, args.idle) == (50000, 10000)


def test_short_run_flags() -> None:
    args = load("compare").parse_args(
        ["--duration", "2", "--smtp-messages", "10", "--only", "imap", "smtp", "--rounds", "1"]
    )
    assert args.only == ["imap", "smtp"] and args.duration == 2.0 and args.rounds == 1


@pytest.mark.parametrize("flag", ["--clients", "--rounds", "--smtp-messages"])
def test_counts_below_one_are_refused(flag: str) -> None:
    with pytest.raises(SystemExit):
        load("compare").parse_args([flag, "0"])


def test_generated_messages_have_the_asked_size() -> None:
    data = load("loadgen").message(7, 3000)
    assert 2800 <= len(data) <= 3000 and b"\r\n\r\n" in data
