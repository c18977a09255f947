"""Fixtures that start the real server on ephemeral loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mailserver import native
from tests.support.server import ServerProcess, create_users, write_config


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to test compiled parse modules older than their sources (the
    package then runs the sources, so the compiled code would go untested)."""
    if native.stale_reason is not None:
        pytest.exit(
            f"compiled parse modules are out of date ({native.stale_reason}): {native.REBUILD}",
            returncode=2,
        )


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
