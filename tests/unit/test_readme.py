"""README.md is the instructor's manual: every CLI command is in its command table,
every config setting in its config reference, and the lab part has the handout's
exercises 1-8 and the network checklist."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

import pytest

from mailserver.cli.main import build_parser
from mailserver.config.model import AuthSettings, Limits, TimeoutSettings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _section(heading: str) -> str:
    start = README.index(f"\n## {heading}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def _commands() -> list[str]:
    """``serve``, ``user add``, ``tls self-signed`` ...: every leaf command of the CLI."""

    def leaves(parser: argparse.ArgumentParser, prefix: str) -> list[str]:
        found = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found += leaves(sub, f"{prefix} {name}".strip())
                return found
        return [prefix]

    return leaves(build_parser(), "")


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_in_the_command_table(command: str) -> None:
    table = _section("Command line")
    assert f"| `mailserver -c FILE {command}" in table, command


@pytest.mark.parametrize(
    ("prefix", "settings"),
    [("auth", AuthSettings), ("limits", Limits)],
)
def test_every_setting_is_in_the_config_reference(prefix: str, settings: type) -> None:
    reference = _section("Configuration")
    for field in dataclasses.fields(settings):
        assert f"`{prefix}.{field.name}`" in reference, field.name


def test_timeouts_are_documented() -> None:
    rows = [
        line for line in _section("Configuration").splitlines() if line.startswith("| `timeouts.")
    ]
    names = {name for row in rows for name in re.findall(r"`(?:timeouts)?\.(\w+)`", row)}
    assert {field.name for field in dataclasses.fields(TimeoutSettings)} <= names


def test_running_a_lab_is_apart_from_developing() -> None:
    lab = _section("Run a lab")
    assert "scripts/run" in lab and "pytest" not in lab
    develop = _section("Develop")
    assert "scripts/test" in develop and "root" in develop


def test_exercises_are_numbered_as_the_handout() -> None:
    guide = _section("Lab guide")
    numbers = [int(n) for n in re.findall(r"^### Exercise (\d+):", guide, re.MULTILINE)]
    assert numbers == list(range(1, 9))
    assert "relay.routes" in guide and "`http`/`https`" in guide


def test_the_network_checklist_covers_what_students_meet() -> None:
    checklist = _section("Run a lab")
    for needed in (
        "JServer.NetLab",
        "hosts",
        "firewall",
        "set localecho",
        "Telnet Client",
        "nc -C",
    ):
        assert needed in checklist, needed
    assert "2525" in checklist and "| 25 " in checklist  # quickstart and standard ports
    assert "config/data/" in _section("Lab guide") and "cur/" in _section("Lab guide")
