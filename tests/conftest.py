"""Fixtures that start the real server on ephemeral loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import ServerProcess, create_users, write_config


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers with extra config settings; all are stopped at the end."""
    started: list[ServerProcess] = []

    def start(**overrides: Any) -> ServerProcess:
        directory = tmp_path / f"server{len(started)}"
        directory.mkdir()
        config_path = write_config(directory, **overrides)
        create_users(config_path)
        server = ServerProcess(config_path)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def mail_server(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    """A server with the minimal config and the group1_1..group1_3 accounts."""
    return server_factory()
