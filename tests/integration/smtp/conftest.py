"""SMTP integration tests run a server with only the SMTP listener.

Other protocols are not under test here, and a server that starts only what
it needs starts faster; ``smtp_server_factory`` passes further overrides on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.server import ServerProcess

SMTP_ONLY = {"smtp": "127.0.0.1:0"}


@pytest.fixture
def smtp_server_factory(
    server_factory: Callable[..., ServerProcess],
) -> Callable[..., ServerProcess]:
    def start(**overrides: Any) -> ServerProcess:
        overrides.setdefault("listeners", SMTP_ONLY)
        return server_factory(**overrides)

    return start


@pytest.fixture
def mail_server(smtp_server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return smtp_server_factory()
