"""``workers``: processes that accept connections; one per core unless told."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailserver.config import ConfigError, load_config

BASE = "hostname: JServer.NetLab\nlisteners: {smtp: 127.0.0.1:2525}\n"


def load(tmp_path: Path, extra: str = "") -> int:
    path = tmp_path / "mailserver.yaml"
    path.write_text(BASE + extra)
    return load_config(path).workers


def test_default_and_auto_mean_one_per_usable_core(tmp_path: Path) -> None:
    cores = len(os.sched_getaffinity(0))
    assert load(tmp_path) == cores
    assert load(tmp_path, "workers: auto\n") == cores


def test_a_number_is_taken_as_is(tmp_path: Path) -> None:
    assert load(tmp_path, "workers: 1\n") == 1
    assert load(tmp_path, "workers: 4\n") == 4


@pytest.mark.parametrize("value", ["0", "-2", "many", "2.5", "true", "1000"])
def test_mistakes_name_the_key(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"^workers: expected a number of processes"):
        load(tmp_path, f"workers: {value}\n")
