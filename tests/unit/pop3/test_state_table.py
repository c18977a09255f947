"""The dispatch table: every verb of RFC 1939/2449/5034 in the right states."""

from __future__ import annotations

import pytest

from mailserver.pop3.commands import COMMANDS, SYNTAXES
from mailserver.pop3.parser import Syntax
from mailserver.pop3.states import State

A, T, U = State.AUTHORIZATION, State.TRANSACTION, State.UPDATE


@pytest.mark.parametrize(
    ("verb", "states"),
    [
        ("USER", {A}),
        ("PASS", {A}),
        ("APOP", {A}),
        ("AUTH", {A}),
        ("STLS", {A}),
        ("CAPA", {A, T}),
        ("QUIT", {A, T}),
        ("STAT", {T}),
        ("LIST", {T}),
        ("UIDL", {T}),
        ("RETR", {T}),
        ("TOP", {T}),
        ("DELE", {T}),
        ("NOOP", {T}),
        ("RSET", {T}),
    ],
)
def test_states(verb: str, states: set[State]) -> None:
    assert set(COMMANDS[verb].states) == states


def test_no_command_runs_in_update() -> None:
    assert all(U not in spec.states for spec in COMMANDS.values())


def test_syntaxes_match_table() -> None:
    assert {verb: spec.syntax for verb, spec in COMMANDS.items()} == SYNTAXES
    assert SYNTAXES["PASS"] is Syntax.REST
    assert SYNTAXES["TOP"] is Syntax.TWO_NUMBERS


def test_every_handler_is_a_coroutine_function() -> None:
    import inspect

    for spec in COMMANDS.values():
        assert inspect.iscoroutinefunction(spec.handler)
