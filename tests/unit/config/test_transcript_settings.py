"""The ``transcripts:`` config section: defaults, paths, and errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailserver.config import ConfigError
from mailserver.config.loader import parse_config

BASE = {"hostname": "JServer.NetLab"}


def test_defaults(tmp_path: Path) -> None:
    settings = parse_config(BASE, tmp_path).transcripts
    assert settings.passwords == "mask" and settings.dir is None
    assert settings.keep_sessions == 200 and settings.body_lines == 8
    assert settings.response_lines == 100


def test_values_and_relative_dir(tmp_path: Path) -> None:
    raw = {
        **BASE,
        "transcripts": {"passwords": "show", "dir": "logs/t", "keep_mb": 2, "body_lines": 3},
    }
    settings = parse_config(raw, tmp_path).transcripts
    assert settings.passwords == "show"
    assert settings.dir == (tmp_path / "logs/t").resolve()
    assert settings.keep_mb == 2.0 and settings.body_lines == 3


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"passwords": "hide"}, "transcripts.passwords: expected mask or show"),
        ({"keep_sessions": -1}, "transcripts.keep_sessions: must not be negative"),
        ({"body_lines": "ten"}, "transcripts.body_lines: expected a number"),
        ({"response_lines": -5}, "transcripts.response_lines: must not be negative"),
        ({"dir": ""}, "transcripts.dir: expected a path"),
        ({"colour": "red"}, "transcripts.colour: unknown setting"),
        ("yes", "transcripts: expected a mapping"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, section: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_config({**BASE, "transcripts": section}, tmp_path)
